import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Db } from "@usage/db";
import { sql } from "kysely";

export interface ScenarioResult {
  scenario: string;
  acknowledged: number;
  stored: number;
  lost: number;
  duplicated: number;
  rollupMismatches: number;
  maxLagMs: number;
  retriedRequests: number;
  /** Requests the driver made (a hit or a batch, retries not counted again). */
  requests: number;
  /** Of those, the ones answered 202 at their first attempt. */
  answeredFirstTime: number;
  /** What the scenario measured besides (failover times, reads). */
  notes: string;
}

/** What the report needs of the load: see Driver. */
export interface LoadFigures {
  requests: number;
  answeredFirstTime: number;
  failedAttempts: number;
}

/**
 * Watches the acknowledged hits arrive in Postgres: when each was first seen stored (for the
 * lag from 202 to commit) and, at the end, what is missing or stored twice.
 */
export class StorageWatch {
  readonly #seen = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  readonly db: Db;
  readonly acked: Map<string, { clientId: string; at: number }>;

  constructor(db: Db, acked: Map<string, { clientId: string; at: number }>) {
    this.db = db;
    this.acked = acked;
  }

  start(): void {
    this.#timer = setInterval(() => void this.poll(), 200);
  }

  async poll(): Promise<number> {
    if (this.#polling) return this.#seen.size;
    this.#polling = true;
    try {
      const pending = [...this.acked.keys()].filter((id) => !this.#seen.has(id));
      for (let i = 0; i < pending.length; i += 5000) {
        const chunk = pending.slice(i, i + 5000);
        const { rows } = await sql<{ id: string }>`SELECT DISTINCT id FROM hits WHERE id = ANY(${chunk}::uuid[])`.execute(this.db);
        const now = Date.now();
        for (const row of rows) this.#seen.set(row.id, now);
      }
    } catch {
      // Postgres may be the thing under fault for the watcher too; try again next tick.
    } finally {
      this.#polling = false;
    }
    return this.#seen.size;
  }

  async until(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.poll()) >= this.acked.size) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async result(scenario: string, load: LoadFigures, notes = ""): Promise<ScenarioResult> {
    const ids = [...this.acked.keys()];
    const { rows } = await sql<{ rows: number; distinct: number }>`
      SELECT count(*)::int AS rows, count(DISTINCT id)::int AS distinct FROM hits WHERE id = ANY(${ids}::uuid[])`.execute(this.db);
    const { rows: mismatches } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (
        SELECT client_id, (ts AT TIME ZONE 'UTC')::date AS day, count(*) AS total FROM hits GROUP BY 1, 2
      ) raw FULL JOIN usage_daily u USING (client_id, day)
      WHERE raw.total IS DISTINCT FROM u.total`.execute(this.db);
    let maxLag = 0;
    for (const [id, { at }] of this.acked) {
      const seen = this.#seen.get(id);
      if (seen !== undefined) maxLag = Math.max(maxLag, seen - at);
    }
    const stored = rows[0]?.distinct ?? 0;
    return {
      scenario,
      acknowledged: ids.length,
      stored,
      lost: ids.length - stored,
      duplicated: (rows[0]?.rows ?? 0) - stored,
      rollupMismatches: mismatches[0]?.n ?? 0,
      maxLagMs: maxLag,
      retriedRequests: load.failedAttempts,
      requests: load.requests,
      answeredFirstTime: load.answeredFirstTime,
      notes,
    };
  }
}

/** Requests answered 202 at their first attempt, in % of all requests (100 with none made). */
export const firstTimeShare = (r: Pick<ScenarioResult, "requests" | "answeredFirstTime">): number =>
  r.requests === 0 ? 100 : (100 * r.answeredFirstTime) / r.requests;

export const table = (results: ScenarioResult[]): string => {
  const header =
    "| scenario | acknowledged | stored | lost | duplicated | rollup mismatches | max lag 202→commit | requests retried by the client | requests answered 202 at once | notes |";
  const rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|";
  const lines = results.map(
    (r) =>
      `| ${r.scenario} | ${r.acknowledged} | ${r.stored} | ${r.lost} | ${r.duplicated} | ${r.rollupMismatches} | ${(r.maxLagMs / 1000).toFixed(1)} s | ${r.retriedRequests} | ${r.answeredFirstTime} / ${r.requests} (${firstTimeShare(r).toFixed(2)} %) | ${r.notes} |`,
  );
  return [header, rule, ...lines].join("\n");
};

const REPORT = "var/fault-report.md";

/**
 * Prints a test file's table and puts it in var/fault-report.md under its own heading,
 * keeping the other files' sections (each file of the suite runs in a process of its own).
 */
export const writeReport = (section: string, results: ScenarioResult[]): void => {
  const body = `## ${section}\n\n_${new Date().toISOString()}_\n\n${table(results)}\n`;
  process.stdout.write(`\n${body}\n`);
  let previous = "";
  try {
    previous = readFileSync(REPORT, "utf8");
  } catch {
    // First file of the run to report.
  }
  const others = previous
    .split(/^(?=## )/m)
    .filter((part) => part.startsWith("## ") && !part.startsWith(`## ${section}\n`))
    .map((part) => part.trimEnd());
  mkdirSync("var", { recursive: true });
  writeFileSync(REPORT, `${[...others, body.trimEnd()].join("\n\n")}\n`);
};
