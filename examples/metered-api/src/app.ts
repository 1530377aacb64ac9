import { UsageClient } from "@usage/sdk";
import { usageFastify } from "@usage/sdk/fastify";
import Fastify, { type FastifyInstance } from "fastify";

export interface ExampleOptions {
  /** Where the usage-metering service is. */
  usageUrl: string;
}

/**
 * A tiny orders API whose callers are clients of the metering service: each sends its own
 * API key in `x-api-key`. The SDK's middleware, in enforce mode, counts every request before
 * its handler runs and answers 429 (with retry-after) once the caller is over its quota;
 * a request without a key is served untracked.
 */
export const buildExample = async ({ usageUrl }: ExampleOptions): Promise<{ app: FastifyInstance; usage: UsageClient }> => {
  const usage = new UsageClient({
    baseUrl: usageUrl,
    onError: (error) => console.error(`usage: ${error.code} (${error.outcome}): ${error.message}`),
  });
  const app = Fastify();
  await app.register(usageFastify, { client: usage, apiKey: (request) => request.headers["x-api-key"], enforce: true });

  app.get("/v1/orders/:id", async (request) => ({ id: (request.params as { id: string }).id, status: "shipped" }));
  app.post("/v1/orders", async (_request, reply) => reply.code(201).send({ id: crypto.randomUUID(), status: "received" }));

  // The last hits are sent before the process ends.
  app.addHook("onClose", async () => {
    await usage.shutdown({ timeoutMs: 5_000 });
  });
  return { app, usage };
};
