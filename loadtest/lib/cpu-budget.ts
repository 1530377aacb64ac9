import { readdirSync, readFileSync } from "node:fs";
import { parentOf, redisServerPids, titleOf } from "./proc-stats.ts";

/** Kernel clock ticks per second for /proc's utime and stime: 100 on every Linux we run. */
const TICKS_PER_S = 100;

/**
 * Who used the CPU: our processes by pid, a server's several processes by their pids (a Redis
 * Cluster's primaries), the shared servers by command name, those `keep` says are theirs (it
 * is asked at each snapshot: a server's backends come and go).
 */
export type CpuParty =
  | { name: string; pid: number | undefined }
  | { name: string; pids: readonly number[] }
  | { name: string; comm: string; keep?: (pid: string) => boolean };

const ticksOf = (pid: number | string): number => {
  try {
    // The command name is in parentheses and may hold spaces: fields count from after it.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // gone since it was listed
  }
};

const commOf = (pid: string): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};

/** Ticks of the whole machine from /proc/stat: busy (idle, iowait and steal excluded), stolen by the hypervisor, and all. */
const machineTicks = (): { busy: number; steal: number; total: number } => {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = (
    readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
  )
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
};

/** Ticks so far of each process of each party, by pid. */
const snapshot = (parties: readonly CpuParty[]): Array<Map<string, number>> => {
  const pids = parties.some((p) => "comm" in p) ? readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)) : [];
  const comms = new Map(pids.map((pid) => [pid, commOf(pid)]));
  return parties.map((party) => {
    if ("pid" in party) return new Map(party.pid === undefined ? [] : [[String(party.pid), ticksOf(party.pid)]]);
    if ("pids" in party) return new Map(party.pids.map((pid) => [String(pid), ticksOf(pid)]));
    const ticks = new Map<string, number>();
    for (const [pid, comm] of comms) if (comm === party.comm && (party.keep?.(pid) ?? true)) ticks.set(pid, ticksOf(pid));
    return ticks;
  });
};

/**
 * What each process used between two snapshots: a process that exited in between (a pool
 * closing idle connections) is left out instead of taking its whole past off the sum; one
 * that started in between counts from zero.
 */
const used = (before: Map<string, number>, after: Map<string, number>): number => {
  let ticks = 0;
  for (const [pid, now] of after) ticks += Math.max(0, now - (before.get(pid) ?? 0));
  return ticks;
};

export interface CpuBudget {
  /** CPU seconds per party over the stage. */
  seconds: Record<string, number>;
  /** Wall-clock seconds of the stage. */
  wallS: number;
  /** CPU seconds the whole machine was busy (every core, every process and the kernel). */
  machineS: number;
  /** The machine's busy fraction over the stage (1 = every core busy). */
  machineBusy: number;
  /** The fraction the hypervisor gave to other guests. */
  machineSteal: number;
}

/**
 * CPU used by each party while `stage` runs. A process that exits before the stage ends
 * takes its time with it: that shows up as "other" (the machine's busy time no live party
 * accounts for).
 */
export const measureCpu = async <T>(parties: readonly CpuParty[], stage: () => Promise<T>): Promise<{ result: T; cpu: CpuBudget }> => {
  const before = snapshot(parties);
  const machineBefore = machineTicks();
  const started = performance.now();
  const result = await stage();
  const wallS = (performance.now() - started) / 1000;
  const after = snapshot(parties);
  const machineAfter = machineTicks();
  const seconds: Record<string, number> = {};
  parties.forEach((party, i) => {
    seconds[party.name] = used(before[i] ?? new Map(), after[i] ?? new Map()) / TICKS_PER_S;
  });
  const total = machineAfter.total - machineBefore.total;
  const share = (ticks: number): number => (total > 0 ? ticks / total : 0);
  return {
    result,
    cpu: {
      seconds,
      wallS,
      machineS: (machineAfter.busy - machineBefore.busy) / TICKS_PER_S,
      machineBusy: share(machineAfter.busy - machineBefore.busy),
      machineSteal: share(machineAfter.steal - machineBefore.steal),
    },
  };
};

/**
 * One row per stage: CPU µs per unit of work, by party; "other" is what the machine was
 * busy with beyond them (kernel threads such as writeback, processes that came and went).
 */
export const cpuTable = (
  rows: Array<{ stage: string; unit: string; work: number; cpu: CpuBudget }>,
  parties: readonly string[],
): string => {
  const header = `| stage | per | ${parties.join(" | ")} | other | machine | busy | stolen |`;
  const rule = `|---|---|${parties.map(() => "---:").join("|")}|---:|---:|---:|---:|`;
  const lines = rows.map(({ stage, unit, work, cpu }) => {
    const per = (s: number): string => (work > 0 ? ((s * 1e6) / work).toFixed(1) : "");
    const cells = parties.map((party) => ((cpu.seconds[party] ?? 0) > 0 ? per(cpu.seconds[party] ?? 0) : ""));
    const counted = Object.values(cpu.seconds).reduce((sum, s) => sum + s, 0);
    const other = Math.max(0, cpu.machineS - counted);
    return `| ${stage} | ${unit} | ${cells.join(" | ")} | ${per(other)} | ${per(Math.max(cpu.machineS, counted))} | ${Math.round(cpu.machineBusy * 100)} % | ${Math.round(cpu.machineSteal * 100)} % |`;
  });
  return [header, rule, ...lines].join("\n");
};

/**
 * Whether a process is of the Postgres server whose postmaster is `postmaster` and does not
 * serve another database than `database`: other servers on the machine (another run's
 * private primary and replica) and other databases' backends are not this run's work.
 */
const ofPostgres =
  (postmaster: number, database: string) =>
  (pid: string): boolean => {
    if (Number(pid) !== postmaster && parentOf(pid) !== postmaster) return false;
    const title = titleOf(pid);
    // A backend's title: "postgres: [cluster: ]user database host(port)|[local] activity".
    const named = / (\S+) (?:\S+\(\d+\)|\[local\])/.exec(title)?.[1] ?? /autovacuum worker (\S+)/.exec(title)?.[1];
    return named === undefined || named === database;
  };

/**
 * The parties beside the service's own processes: the Redis servers on these ports, by name
 * (by command name when none is found here, as for a Redis in a container: then every
 * redis-server on the machine counts); the Postgres server's processes that may work for
 * `postgres.database` (every process named postgres when its postmaster is not found here);
 * and this process (the load generator and the COPY client).
 */
export const serverParties = (
  redis: Record<string, readonly number[]>,
  postgres: { postmaster: number | undefined; database: string },
): CpuParty[] => [
  ...Object.entries(redis).map(([name, ports]): CpuParty => {
    const pids = [...redisServerPids(ports).values()];
    return pids.length > 0 || ports.length === 0 ? { name, pids } : { name, comm: "redis-server" };
  }),
  postgres.postmaster === undefined
    ? { name: "postgres", comm: "postgres" }
    : { name: "postgres", comm: "postgres", keep: ofPostgres(postgres.postmaster, postgres.database) },
  { name: "load generator", pid: process.pid },
];

/** The port of a redis:// URL. */
export const redisPort = (url: string): number => Number(new URL(url).port || 6379);
