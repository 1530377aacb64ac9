import { ApiError, exchangeKey } from "./api.ts";
import { h } from "./dom.ts";
import { type Session, sessionOf } from "./session.ts";

const reason = (error: unknown): string => {
  if (!(error instanceof ApiError)) return "Something went wrong. Try again.";
  if (error.status === 401) return "That key was not accepted: it is unknown, revoked, or was rotated out.";
  if (error.status === 403) return "The admin key is accepted only from allowed addresses (ADMIN_IP_ALLOWLIST).";
  if (error.status === 429) return "Too many attempts. Wait a minute, then try again.";
  if (error.unavailable) return "The service is not answering right now. Check that it runs, then try again.";
  return error.message;
};

/** The sign-in form: an API key (a client's or the admin's) exchanged for a token. */
export const signInView = (notice: string | undefined, onSignedIn: (session: Session) => void): HTMLElement => {
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-help",
  });
  const button = h("button", { type: "submit", class: "button primary" }, "Sign in");
  const message = h("p", { class: "form-error", role: "alert", "data-testid": "sign-in-message" }, notice ?? "");
  const form = h(
    "form",
    { class: "sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Usage dashboard"),
    h("p", { class: "muted" }, "Live API usage, quotas and clients."),
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { id: "api-key-help", class: "hint" },
      "A client's key shows that client's usage; the admin key shows every client. The key is exchanged for a short-lived token kept only in this tab.",
    ),
    button,
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key === "") return;
    button.disabled = true;
    message.textContent = "";
    exchangeKey(key)
      .then((token) => onSignedIn(sessionOf(token)))
      .catch((error: unknown) => {
        message.textContent = reason(error);
        button.disabled = false;
        input.focus();
        input.select();
      });
  });
  queueMicrotask(() => input.focus());
  return h("div", { class: "sign-in-page" }, form);
};
