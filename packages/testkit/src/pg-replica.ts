import { execFile } from "node:child_process";
import { appendFile, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./redis-server.ts";

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const START_TIMEOUT_MS = 30_000;

export interface PrivatePgReplica {
  /** Maintenance database (`postgres`) on the primary, as user `postgres`. */
  primaryUrl: string;
  /** The same on the streaming replica. */
  replicaUrl: string;
  dir: string;
  /** A crash: `pg_ctl stop -m immediate` (no shutdown checkpoint, connections dropped). */
  killReplica(): Promise<void>;
  /** Starts the replica again and waits until it streams. */
  startReplica(): Promise<void>;
  /** Holds WAL replay on the replica: it keeps answering, frozen at what it had replayed. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Stops both servers and removes their files. */
  stop(): Promise<void>;
}

/** Runs a server binary as the `postgres` OS user when we are root (initdb and postgres refuse root). */
const asPostgres = async (binary: string, args: string[], cwd: string): Promise<string> => {
  const path = join(PG_BIN, binary);
  const [command, argv] = process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
  try {
    return (await run(command, argv, { cwd, timeout: START_TIMEOUT_MS * 2 })).stdout;
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${binary} ${args.join(" ")} failed: ${stderr || stdout || String(error)}`);
  }
};

const postgresOwner = async (): Promise<{ uid: number; gid: number } | undefined> => {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
};

const appendConfig = (dataDir: string, lines: string[]): Promise<void> =>
  appendFile(join(dataDir, "postgresql.auto.conf"), `${lines.join("\n")}\n`);

const appendHba = (dataDir: string, line: string): Promise<void> => appendFile(join(dataDir, "pg_hba.conf"), `${line}\n`);

const urlOf = (port: number, database = "postgres"): string => `postgres://postgres@127.0.0.1:${port}/${database}`;

/** One statement on a fresh connection (a pool would hide a server that just went away). */
export const pgQuery = async <R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
};

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = START_TIMEOUT_MS): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
};

/** Resolves once the replica has replayed everything the primary had written when called. */
export const waitForReplay = async (primaryUrl: string, replicaUrl: string, timeoutMs = START_TIMEOUT_MS): Promise<void> => {
  const [position] = await pgQuery<{ lsn: string }>(primaryUrl, "SELECT pg_current_wal_lsn()::text AS lsn");
  await until(
    "the replica to replay the primary's writes",
    async () => {
      const [row] = await pgQuery<{ done: boolean }>(replicaUrl, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done", [position?.lsn]);
      return row?.done === true;
    },
    timeoutMs,
  );
};

/**
 * A private Postgres primary and a streaming replica of it (`pg_basebackup -R`), on free
 * ports in a temporary directory, for tests that need a replica they can pause, kill and
 * restart: never the shared server. Resolves once the replica streams.
 */
export const startPgReplica = async (): Promise<PrivatePgReplica> => {
  const dir = await mkdtemp(join(tmpdir(), "usage-pg-"));
  const owner = await postgresOwner();
  if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
  const primaryPort = await freePort();
  let replicaPort = await freePort();
  while (replicaPort === primaryPort) replicaPort = await freePort();
  const primaryDir = join(dir, "primary");
  const replicaDir = join(dir, "replica");
  const primaryUrl = urlOf(primaryPort);
  const replicaUrl = urlOf(replicaPort);
  const pgCtl = (dataDir: string, ...args: string[]) => asPostgres("pg_ctl", ["-D", dataDir, ...args], dir);
  const start = (dataDir: string, log: string) =>
    pgCtl(dataDir, "-l", join(dir, log), "-w", "-t", String(START_TIMEOUT_MS / 1000), "start");

  const streaming = async (): Promise<void> => {
    await until("the replica to stream", async () => {
      const [sender] = await pgQuery<{ state: string }>(primaryUrl, "SELECT state FROM pg_stat_replication");
      const [standby] = await pgQuery<{ recovering: boolean }>(replicaUrl, "SELECT pg_is_in_recovery() AS recovering");
      return sender?.state === "streaming" && standby?.recovering === true;
    });
  };

  try {
    await asPostgres("initdb", ["-D", primaryDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], dir);
    // fsync off: a test cluster that dies with its test has nothing to keep, and the shared disk is busy.
    await appendConfig(primaryDir, [
      `port = ${primaryPort}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "wal_level = replica",
      "max_wal_senders = 4",
      "wal_keep_size = '512MB'",
      "max_connections = 300",
      "shared_buffers = '32MB'",
      "fsync = off",
    ]);
    await appendHba(primaryDir, "host replication postgres 127.0.0.1/32 trust");
    await start(primaryDir, "primary.log");
    await asPostgres(
      "pg_basebackup",
      ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", replicaDir, "-R", "-X", "stream"],
      dir,
    );
    // The copy carries the primary's settings; the replica differs only by its port.
    await appendConfig(replicaDir, [`port = ${replicaPort}`, "hot_standby = on"]);
    await start(replicaDir, "replica.log");
    await streaming();
  } catch (error) {
    await pgCtl(replicaDir, "-m", "immediate", "stop").catch(() => {});
    await pgCtl(primaryDir, "-m", "immediate", "stop").catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    primaryUrl,
    replicaUrl,
    dir,
    async killReplica() {
      await pgCtl(replicaDir, "-m", "immediate", "stop");
    },
    async startReplica() {
      await start(replicaDir, "replica.log");
      await streaming();
    },
    async pauseReplay() {
      await pgQuery(replicaUrl, "SELECT pg_wal_replay_pause()");
      await until("replay to pause", async () => {
        const [row] = await pgQuery<{ state: string }>(replicaUrl, "SELECT pg_get_wal_replay_pause_state() AS state");
        return row?.state === "paused";
      });
    },
    async resumeReplay() {
      await pgQuery(replicaUrl, "SELECT pg_wal_replay_resume()");
    },
    async stop() {
      await pgCtl(replicaDir, "-m", "fast", "stop").catch(() => {});
      await pgCtl(primaryDir, "-m", "fast", "stop").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
};
