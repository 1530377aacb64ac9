import { h } from "./dom.ts";
import type { StreamState } from "./stream.ts";

export interface Shell {
  readonly main: HTMLElement;
  setIdentity(text: string): void;
  setStream(state: StreamState): void;
  /** A message above the page while the API fails; undefined clears it. */
  setProblem(text: string | undefined): void;
  readonly hasProblem: boolean;
  readonly streamState: StreamState;
}

const STREAM_TEXT: Record<StreamState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

/** The frame of a signed-in page: who, whether the stream is live, sign-out, and problems. */
export const mountShell = (root: HTMLElement, role: "client" | "admin", onSignOut: () => void): Shell => {
  const identity = h("span", { class: "identity", "data-testid": "identity" });
  const stream = h(
    "span",
    { class: "stream-state", role: "status", "data-testid": "stream-state", "data-state": "connecting" },
    STREAM_TEXT.connecting,
  );
  const signOut = h("button", { type: "button", class: "button", onclick: onSignOut }, "Sign out");
  const problem = h("div", { class: "problem", role: "alert", "data-testid": "problem", hidden: true });
  const main = h("main", { id: "main", tabindex: "-1" });
  root.replaceChildren(
    h("a", { class: "skip-link", href: "#main" }, "Skip to content"),
    h(
      "header",
      { class: "topbar" },
      h("div", { class: "brand" }, h("img", { src: "/dashboard/favicon.svg", alt: "", width: 24, height: 24 }), h("span", {}, "Usage")),
      h("span", { class: "role-badge" }, role === "admin" ? "Admin" : "Client"),
      identity,
      h("div", { class: "spacer" }),
      stream,
      signOut,
    ),
    problem,
    main,
  );
  let hasProblem = false;
  let streamState: StreamState = "connecting";
  return {
    main,
    setIdentity: (text) => {
      identity.textContent = text;
    },
    setStream(state) {
      streamState = state;
      stream.textContent = STREAM_TEXT[state];
      stream.dataset.state = state;
    },
    setProblem(text) {
      hasProblem = text !== undefined;
      problem.hidden = !hasProblem;
      problem.textContent = text ?? "";
    },
    get hasProblem() {
      return hasProblem;
    },
    get streamState() {
      return streamState;
    },
  };
};
