import { defineConfig } from "vite";

// Served by the gateway at /dashboard (apps/gateway/src/dashboard). `pnpm --filter
// @usage/dashboard dev` serves it with hot reload and sends the API to a local gateway.
const gateway = process.env.DASHBOARD_API ?? "http://127.0.0.1:3000";

export default defineConfig({
  base: "/dashboard/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // One small page: no inline scripts or styles, so the CSP can stay at 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { "/api": { target: gateway, ws: true } },
  },
});
