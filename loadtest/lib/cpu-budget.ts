import { readdirSync, readFileSync } from "node:fs";

/** Kernel clock ticks per second for /proc's utime and stime: 100 on every Linux we run. */
const TICKS_PER_S = 100;

/** Who used the CPU: our processes by pid, the shared servers by command name. */
export type CpuParty = { name: string; pid: number | undefined } | { name: string; comm: string };

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

const snapshot = (parties: readonly CpuParty[]): number[] => {
  const pids = parties.some((p) => "comm" in p) ? readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)) : [];
  const comms = new Map(pids.map((pid) => [pid, commOf(pid)]));
  return parties.map((party) => {
    if ("pid" in party) return party.pid === undefined ? 0 : ticksOf(party.pid);
    let sum = 0;
    for (const [pid, comm] of comms) if (comm === party.comm) sum += ticksOf(pid);
    return sum;
  });
};

export interface CpuBudget {
  /** CPU seconds per party over the stage. */
  seconds: Record<string, number>;
  /** Wall-clock seconds of the stage. */
  wallS: number;
  /** The machine's busy fraction over the stage (1 = every core busy). */
  machineBusy: number;
  /** The fraction the hypervisor gave to other guests. */
  machineSteal: number;
}

/**
 * CPU used by each party while `stage` runs. Backends that start and exit inside the stage
 * are missed (their time goes to no live process), so the stages keep their pools open.
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
    seconds[party.name] = Math.max(0, (after[i] ?? 0) - (before[i] ?? 0)) / TICKS_PER_S;
  });
  const total = machineAfter.total - machineBefore.total;
  const share = (ticks: number): number => (total > 0 ? ticks / total : 0);
  return {
    result,
    cpu: {
      seconds,
      wallS,
      machineBusy: share(machineAfter.busy - machineBefore.busy),
      machineSteal: share(machineAfter.steal - machineBefore.steal),
    },
  };
};

/** One row per stage: CPU µs per unit of work, by party. */
export const cpuTable = (
  rows: Array<{ stage: string; unit: string; work: number; cpu: CpuBudget }>,
  parties: readonly string[],
): string => {
  const header = `| stage | per | ${parties.join(" | ")} | all | machine busy | stolen |`;
  const rule = `|---|---|${parties.map(() => "---:").join("|")}|---:|---:|---:|`;
  const lines = rows.map(({ stage, unit, work, cpu }) => {
    const per = (s: number): string => (work > 0 ? ((s * 1e6) / work).toFixed(1) : "");
    const cells = parties.map((party) => ((cpu.seconds[party] ?? 0) > 0 ? per(cpu.seconds[party] ?? 0) : ""));
    const all = Object.values(cpu.seconds).reduce((sum, s) => sum + s, 0);
    return `| ${stage} | ${unit} | ${cells.join(" | ")} | ${per(all)} | ${Math.round(cpu.machineBusy * 100)} % | ${Math.round(cpu.machineSteal * 100)} % |`;
  });
  return [header, rule, ...lines].join("\n");
};
