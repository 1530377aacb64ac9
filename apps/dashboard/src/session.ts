import type { TokenResponse } from "./api-types.ts";

/** What the page knows of whoever signed in: the token and the claims it reads from it. */
export interface Session {
  token: string;
  role: "client" | "admin";
  /** The client id, or "admin". */
  sub: string;
  /** Epoch ms. */
  expiresAt: number;
}

// sessionStorage: the tab's own, gone when it closes; never localStorage or a cookie.
const STORAGE_KEY = "usage.dashboard.session";

const decodeClaims = (jwt: string): Record<string, unknown> => {
  const part = jwt.split(".")[1] ?? "";
  const base64 = part
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
  return typeof claims === "object" && claims !== null ? (claims as Record<string, unknown>) : {};
};

/** The session a token response describes; the signature is the server's business, not the page's. */
export const sessionOf = (response: TokenResponse, now = Date.now()): Session => {
  const claims = decodeClaims(response.access_token);
  const role = claims.role === "admin" ? "admin" : "client";
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  const exp = typeof claims.exp === "number" ? claims.exp * 1000 : now + response.expires_in * 1000;
  return { token: response.access_token, role, sub, expiresAt: exp };
};

/** The tab's session; "expired" when one was kept but its token has run out. */
export const loadSession = (now = Date.now()): Session | "expired" | undefined => {
  try {
    const text = sessionStorage.getItem(STORAGE_KEY);
    if (text === null) return undefined;
    const session = JSON.parse(text) as Session;
    if (typeof session.token !== "string" || typeof session.expiresAt !== "number") return undefined;
    return session.expiresAt > now ? session : "expired";
  } catch {
    return undefined;
  }
};

export const saveSession = (session: Session): void => sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
export const clearSession = (): void => sessionStorage.removeItem(STORAGE_KEY);
