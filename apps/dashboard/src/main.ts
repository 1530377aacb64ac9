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

const unavailable = (error: ApiError | undefined): string =>
  error?.status === 0
    ? "The service is not answering. The figures shown may be out of date; retrying every 5 s."
    : `The service cannot answer right now (${error?.message ?? "unavailable"}). Retrying every 5 s.`;

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
    clearInterval(retry);
    stream.close();
    view.destroy();
    clearSession();
    history.replaceState(null, "", location.pathname);
    showSignIn(notice);
  };
  const shell = mountShell(root, session.role, () => signOut());
  const api = createApi(session.token, {
    onUnauthorized: () => signOut(EXPIRED),
    onReachable: (reachable, error) => shell.setProblem(reachable ? undefined : unavailable(error)),
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
    onRefused: () => signOut(EXPIRED),
  });
  const expiry = setTimeout(() => signOut(EXPIRED), Math.min(MAX_TIMER_MS, session.expiresAt - Date.now()));
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
