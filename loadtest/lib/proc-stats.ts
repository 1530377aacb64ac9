import { readdirSync, readFileSync } from "node:fs";

/** Resident memory of a process, now and at its peak (VmHWM), in MB, from /proc. */
export const memoryOf = (pid: number | undefined): { rssMb: number; peakMb: number } => {
  if (pid === undefined) return { rssMb: 0, peakMb: 0 };
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
  } catch {
    return { rssMb: 0, peakMb: 0 };
  }
};

/** Samples the memory of some processes every `everyMs` until stopped. */
export const sampleMemory = (pids: Record<string, number | undefined>, everyMs: number) => {
  const samples: Array<{ at: number } & Record<string, number>> = [];
  const started = Date.now();
  const take = (): void => {
    const sample: { at: number } & Record<string, number> = { at: (Date.now() - started) / 1000 };
    for (const [name, pid] of Object.entries(pids)) sample[name] = memoryOf(pid).rssMb;
    samples.push(sample);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop(): typeof samples {
      clearInterval(timer);
      take();
      return samples;
    },
  };
};

/**
 * The redis-server processes serving these ports, found by the title Redis gives itself
 * ("redis-server 127.0.0.1:6379 [cluster]"): other Redis servers on the machine (another
 * run's private cluster) are not ours to count.
 */
export const redisServerPids = (ports: readonly number[]): Map<number, number> => {
  const found = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "redis-server") continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      const port = Number(/:(\d+)(?:\s|$)/.exec(title)?.[1]);
      if (ports.includes(port)) found.set(port, Number(entry));
    } catch {
      // gone since it was listed
    }
  }
  return found;
};

/** A process's parent, from /proc; undefined once it is gone (or when it is not on this machine). */
export const parentOf = (pid: number | string): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command name (in parentheses, maybe with spaces): state, then the parent's pid.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
};

/** A process's command line as `ps` shows it: servers such as Postgres put what they do there. */
export const titleOf = (pid: number | string): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
};
