import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { withDefaultUser } from "@usage/db";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

export interface Copier {
  /** COPYs `rows` hits spread over the given clients; returns rows per second. */
  copy(clientIds: readonly string[], rows: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The end-to-end baseline: COPY straight into the same partitioned table (its primary key
 * included). The connection is opened first, so its backend outlives the timed COPY and
 * the CPU it used can be read (see cpu-budget.ts).
 */
export const openCopy = async (databaseUrl: string): Promise<Copier> => {
  const client = new pg.Client({ connectionString: withDefaultUser(databaseUrl) });
  await client.connect();
  return {
    async copy(clientIds, rows) {
      const now = Date.now();
      let i = 0;
      const source = Readable.from(
        (function* () {
          while (i < rows) {
            const lines: string[] = [];
            for (let k = 0; k < 1000 && i < rows; k++, i++) {
              const ts = new Date(now - (i % 3_600_000)).toISOString();
              lines.push(`${clientIds[i % clientIds.length]}\t${randomUUID()}\t${ts}\t${ts}\t203.0.113.7\t200\tGET\t/v1/things\n`);
            }
            yield lines.join("");
          }
        })(),
      );
      const started = performance.now();
      await pipeline(source, client.query(copyFrom("COPY hits (client_id, id, ts, received_at, ip, status, method, endpoint) FROM STDIN")));
      return rows / ((performance.now() - started) / 1000);
    },
    close: () => client.end(),
  };
};
