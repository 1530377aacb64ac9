import { buildExample } from "./app.ts";

const usageUrl = process.env.USAGE_URL ?? "http://127.0.0.1:3000";
const port = Number(process.env.EXAMPLE_PORT ?? 4000);

const { app } = await buildExample({ usageUrl });
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
await app.listen({ port, host: "127.0.0.1" });
console.log(`example API on http://127.0.0.1:${port}, metered by ${usageUrl} (enforce mode)`);
