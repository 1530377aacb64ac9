import { performance } from "node:perf_hooks";
import { epochHour, HOUR_MS, loadSharedConfigOrExit } from "@usage/core";
import { createDb, ensureDatabase, ensureIngestPartitions, migrateToLatest } from "@usage/db";
import { createCounters, createKeys, createRedis, waitReady } from "@usage/store";
import { ensureSeedClients } from "./seed/clients.ts";
import { insertSlice, planSlices } from "./seed/hits.ts";
import { raiseLiveCounters } from "./seed/live-counters.ts";
import { parseSeedOptions, type SeedOptions, USAGE, UsageError } from "./seed/options.ts";
import { createProgress, formatCount, formatDuration } from "./seed/progress.ts";
import { analyze, formatBytes, tableStats } from "./seed/stats.ts";

/**
 * `pnpm seed --database NAME --rows 50M [--redis-prefix NAME] [--clients 10000] [--days 30]
 * [--chunk 1000000]`: fills database NAME (on DATABASE_URL's server, created if missing) with
 * synthetic hits generated inside Postgres, keeps the rollups equal to the raw rows (same
 * transaction per chunk), then lifts the live Redis counters under the prefix to the rollups.
 * The target is never implied by DATABASE_URL, which is usually the dev database.
 * Exit codes: 0 done, 1 failure, 2 bad options, 130 interrupted.
 */

/** Hourly rollups cover the last 26 hours, like the worker's (the top list reads 25). */
const HOURLY_HOURS = 26;

const note = (line: string): void => void process.stderr.write(`seed: ${line}\n`);

const describe = (error: unknown): string => {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name;
  return String(error);
};

const config = loadSharedConfigOrExit();
let options: SeedOptions;
try {
  const parsed = parseSeedOptions(process.argv.slice(2), config.maxEventAgeDays);
  if (parsed === "help") {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  options = parsed;
} catch (error) {
  note(error instanceof UsageError ? error.message : describe(error));
  process.exit(2);
}

let stopRequested = false;
process.on("SIGINT", () => {
  if (stopRequested) process.exit(130);
  stopRequested = true;
  note("stopping after the current chunk (Ctrl-C again to abandon it)");
});

const run = async (): Promise<number> => {
  const started = performance.now();
  const nowMs = Date.now();
  const { database, redisPrefix } = options;
  const target = new URL(config.databaseUrl);
  target.pathname = `/${database}`;
  const databaseUrl = target.toString();
  if (await ensureDatabase(databaseUrl)) note(`created database ${database}`);
  const db = createDb(databaseUrl, { max: 2, applicationName: "usage-seed" });
  const redis = createRedis(config, "command");
  try {
    // Fail before the long part, not after it.
    await waitReady(redis).catch((error: unknown) => {
      const where = config.redisClusterNodes?.map(({ host, port }) => `${host}:${port}`).join(",") ?? new URL(config.redisUrl).host;
      throw new Error(`redis at ${where}: ${describe(error)}`);
    });
    const applied = await migrateToLatest(db);
    await ensureIngestPartitions(db, config.maxEventAgeDays, nowMs);
    const { ids, created } = await ensureSeedClients(db, options.clients);
    const slices = planSlices(options.rows, options.chunk, options.days, nowMs);
    note(
      `database ${database} on ${target.host}, redis prefix ${redisPrefix}${applied.length > 0 ? ` (migrated: ${applied.join(", ")})` : ""}; ${formatCount(ids.length)} clients ` +
        `(${formatCount(created)} new); ${formatCount(options.rows)} hits over ${options.days} days in ${slices.length} chunk${slices.length === 1 ? "" : "s"} of ≤ ${formatCount(options.chunk)}`,
    );

    const hourlyFromMs = (epochHour(nowMs) - HOURLY_HOURS) * HOUR_MS;
    const progress = createProgress({ label: "hits", total: options.rows, unit: "rows" });
    const insertStarted = performance.now();
    let inserted = 0;
    try {
      for (const slice of slices) {
        if (stopRequested) break;
        inserted += await insertSlice(db, ids, slice, hourlyFromMs);
        progress.advance(slice.rows, `chunk ${slice.index + 1}/${slices.length}`);
      }
    } finally {
      progress.finish();
    }
    const insertSeconds = (performance.now() - insertStarted) / 1000;
    if (stopRequested) {
      note(`interrupted after ${formatCount(inserted)} rows; every committed chunk has its rollups, the live counters were not raised`);
      return 130;
    }

    note("vacuum analyze usage_daily, usage_hourly; analyze hits …");
    const analyzeStarted = performance.now();
    await analyze(db);
    note(`analyzed in ${formatDuration((performance.now() - analyzeStarted) / 1000)}`);
    const raised = await raiseLiveCounters(db, createCounters(redis, createKeys(redisPrefix)), Date.now());
    const stats = await tableStats(db);
    const totalSeconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `seed: inserted ${formatCount(inserted)} hits in ${insertSeconds.toFixed(1)} s (${formatCount(inserted / insertSeconds)} rows/s); ` +
        `hits ${formatBytes(stats.hitsBytes)} in ${stats.hitsPartitions} partitions; ` +
        `rollups ${formatCount(stats.dailyRows)} daily + ${formatCount(stats.hourlyRows)} hourly rows; ` +
        `redis ${formatCount(raised.days)} day + ${formatCount(raised.hours)} hour counters raised by ${formatCount(raised.raisedBy)}; ` +
        `total ${totalSeconds.toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    await db.destroy();
    redis.disconnect();
  }
};

let code: number;
try {
  code = await run();
} catch (error) {
  note(`failed: ${describe(error)}`);
  code = 1;
}
process.exit(code);
