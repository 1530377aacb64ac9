import { randomUUID } from "node:crypto";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { HitAccepted, SingleHitBody } from "@usage/contract";
import { withDefaultUser } from "@usage/db";
import { hitFormats } from "@usage/gateway/http/ajv-formats";
import { createHitQueue, createRedis } from "@usage/store";
import Fastify from "fastify";
import pg from "pg";

/**
 * The baselines of the benchmark, one process each, with the service's own body schema,
 * response schema and formats:
 *   bare   – validate and answer, no I/O: the ceiling for the ingest route;
 *   insert – one INSERT per hit (the naive database path);
 *   bullmq – one BullMQ job per hit (the naive queue path).
 */
const [mode = "bare", portText = "0"] = process.argv.slice(2);
const databaseUrl = process.env.DATABASE_URL ?? "";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = process.env.REDIS_PREFIX ?? "bench";

const app = Fastify({ ajv: { onCreate: hitFormats } }).withTypeProvider<TypeBoxTypeProvider>();
const pool = mode === "insert" ? new pg.Pool({ connectionString: withDefaultUser(databaseUrl), max: 10 }) : undefined;
const queue =
  mode === "bullmq"
    ? createHitQueue(createRedis({ redisUrl, redisClusterNodes: undefined }, "command"), { name: "hits", prefix: `${prefix}:{baseline}` })
    : undefined;
const clientId = randomUUID();

app.post("/api/logs", { schema: { body: SingleHitBody, response: { 202: HitAccepted } } }, async (request, reply) => {
  const id = request.body.event_id ?? randomUUID();
  const ts = Date.parse(request.body.timestamp);
  if (pool !== undefined) {
    await pool.query(
      "INSERT INTO hits (client_id, id, ts, received_at, ip, status, method, endpoint) VALUES ($1, $2, $3, now(), $4, $5, $6, $7)",
      [clientId, id, new Date(ts), request.body.ip, request.body.status ?? null, request.body.method ?? null, request.body.endpoint],
    );
  }
  if (queue !== undefined) {
    await queue.add("hit", {
      v: 1,
      hits: [
        [clientId, id, ts, Date.now(), request.body.ip, request.body.method ?? null, request.body.status ?? null, request.body.endpoint],
      ],
    });
  }
  return reply.code(202).send({ id, duplicate: false });
});

await app.listen({ port: Number(portText), host: "127.0.0.1" });
process.on("SIGTERM", () => {
  void app.close().then(async () => {
    await pool?.end();
    await queue?.close();
    process.exit(0);
  });
});
