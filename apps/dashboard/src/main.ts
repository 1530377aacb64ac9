import "./styles.css";
import { adminView } from "./admin-view.ts";
import { type ApiError, createApi } from "./api.ts";
import { clientView } from "./client-view.ts";
import { clearSession, loadSession, type Session, saveSession } from "./session.ts";
import { mountShell } from "./shell.ts";
import { signInView } from "./sign-in.ts";
import { openStream } from "./stream.ts";
import { quietly } from "./view.ts";

const root = document.getElementById("app") as HTMLElement;
const EXPIRED = "Your session has ended (the token expired or was revoked). Sign in again.";
const RETRY_MS = 5_000;
// setTimeout takes at most 2^31 - 1 ms.
const MAX_TIMER_MS = 2_147_483_647;

const ADDRESS_REFUSED = "The admin key is accepted only from allowed addresses (ADMIN_IP_ALLOWLIST); this one is not.";

const problemText = (error: ApiError): string => {
  if (error.status === 403) return `Not allowed: ${error.message}.`;
  if (error.status === 0) return "The service is not answering. The figures shown may be out of date; retrying every 5 s.";
  return `The service cannot answer right now (${error.message}). Retrying every 5 s.`;
};

/** Milliseconds until just after the next UTC midnight, when "today" becomes a new day. */
const untilNextUtcDay = (now = Date.now()): number => 86_400_000 - (now % 86_400_000) + 1_000;

const showSignIn = (notice?: string): void => {
  document.title = "Sign in · Usage dashboard";
  root.replaceChildren(
    signInView(notice, (session) => {
      saveSession(session);
      showDashboard(session);
    }),
  );
};

const showDashboard = (session: Session): void => {
  document.title = session.role === "admin" ? "Admin · Usage dashboard" : "Usage dashboard";
  let ended = false;
  const signOut = (notice?: string): void => {
    if (ended) return;
    ended = true;
    clearTimeout(expiry);
    clearTimeout(midnight);
    clearInterval(retry);
    // An open confirmation must not outlive the session (it would sit over the sign-in form).
    for (const dialog of document.querySelectorAll("dialog")) dialog.close();
    stream.close();
    view.destroy();
    clearSession();
    history.replaceState(null, "", location.pathname);
    showSignIn(notice);
  };
  const shell = mountShell(root, session.role, () => signOut());
  // The banner stays while any route still fails: one route answering says nothing of the others.
  const failing = new Map<string, ApiError>();
  const api = createApi(session.token, {
    onUnauthorized: () => signOut(EXPIRED),
    onOutcome(area, problem) {
      if (problem === undefined) failing.delete(area);
      else failing.set(area, problem);
      const latest = [...failing.values()].pop();
      shell.setProblem(latest === undefined ? undefined : problemText(latest));
    },
  });
  shell.setIdentity(session.role === "admin" ? "all clients" : "");
  const view = session.role === "admin" ? adminView(api) : clientView(api, session.sub, shell.setIdentity);
  shell.main.append(view.element);
  const stream = openStream(session.token, {
    onState(state) {
      // A dropped stream may mean the API is gone too: one read says which, and shows it.
      if (state === "reconnecting" && shell.streamState === "live") quietly(view.refresh());
      shell.setStream(state);
    },
    onSnapshot: view.snapshot,
    onUpdate: view.update,
    onRefused: (code) => signOut(code === 4403 ? ADDRESS_REFUSED : EXPIRED),
  });
  const expiry = setTimeout(() => signOut(EXPIRED), Math.min(MAX_TIMER_MS, session.expiresAt - Date.now()));
  // At UTC midnight "today" is a new day: read everything again rather than wait for its first hit.
  const onNewDay = (): void => {
    quietly(view.refresh());
    midnight = setTimeout(onNewDay, untilNextUtcDay());
  };
  let midnight = setTimeout(onNewDay, untilNextUtcDay());
  // While the API fails, everything is read again every few seconds until it answers.
  const retry = setInterval(() => {
    if (shell.hasProblem) quietly(view.refresh());
  }, RETRY_MS);
};

const kept = loadSession();
if (kept === "expired") {
  clearSession();
  showSignIn(EXPIRED);
} else if (kept === undefined) showSignIn();
else showDashboard(kept);
