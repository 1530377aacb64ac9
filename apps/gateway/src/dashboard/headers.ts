/**
 * The page's Content-Security-Policy: everything from its own origin only (scripts, styles,
 * fonts, images, the API and the WebSocket through connect-src 'self'),
 * no plugins, no inline code, no forms, never framed. The API's answers carry no CSP
 * (helmet's is off for them); these files are the one thing a browser renders.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Vite names every file under assets/ by a hash of its content: a new build is a new name. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

/** index.html and the files beside it keep their names across builds: asked again every time (an ETag makes that cheap). */
export const REVALIDATE = "no-cache";
