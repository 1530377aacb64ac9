import { performance } from "node:perf_hooks";

/** Progress of one phase on stderr: a redrawn bar on a terminal, plain lines otherwise (CI, logs). */
export interface Progress {
  /** `done` more units finished; `note` is shown after the numbers (e.g. "chunk 3/50"). */
  advance(done: number, note?: string): void;
  /** Draws the final state and stops redrawing. */
  finish(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  unit: string;
  /** Without a terminal, print at most one line per this many ms (0: one per advance). */
  lineEveryMs?: number;
  stream?: NodeJS.WriteStream;
}

const RATE_WINDOW = 3;
const REDRAW_MS = 1_000;

export const formatCount = (n: number): string => Math.round(n).toLocaleString("en-US");

export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
};

export const createProgress = ({ label, total, unit, lineEveryMs = 0, stream = process.stderr }: ProgressOptions): Progress => {
  const tty = stream.isTTY === true;
  const start = performance.now();
  // (time, done) after each advance: the current rate is over the last few of them.
  const samples: Array<[number, number]> = [[start, 0]];
  let done = 0;
  let note = "";
  let lastLine = Number.NEGATIVE_INFINITY;

  const rate = (): number => {
    const [t1, d1] = samples[samples.length - 1] as [number, number];
    const [t0, d0] = samples[Math.max(0, samples.length - 1 - RATE_WINDOW)] as [number, number];
    return t1 > t0 ? ((d1 - d0) * 1000) / (t1 - t0) : 0;
  };

  /** The fields of a status line, the ones to drop first on a narrow terminal last. */
  const fields = (now: number): string[] => {
    const perSecond = rate();
    const [lastAt] = samples[samples.length - 1] as [number, number];
    // Counts down between advances, so a long chunk still shows time moving.
    const eta = done >= total ? 0 : perSecond > 0 ? (total - done) / perSecond - (now - lastAt) / 1000 : Number.NaN;
    const pct = total === 0 ? 100 : (done * 100) / total;
    return [
      `${pct.toFixed(1).padStart(5)}%`,
      `${formatCount(done)}/${formatCount(total)} ${unit}`,
      `${perSecond > 0 ? formatCount(perSecond) : "--"} ${unit}/s`,
      `ETA ${formatDuration(Math.max(0, eta))}`,
      note,
      `elapsed ${formatDuration((now - start) / 1000)}`,
    ].filter((part) => part !== "");
  };

  let drawnAt = Number.NEGATIVE_INFINITY;
  const draw = (): void => {
    drawnAt = performance.now();
    const parts = fields(drawnAt);
    // A line wider than the terminal would wrap and break the redraw: drop trailing fields, then cut.
    const columns = (stream.columns || 100) - 1;
    const room = (): number => columns - label.length - parts.join("  ").length - 4;
    while (parts.length > 3 && room() < 10) parts.pop();
    const width = Math.min(40, room());
    const filled = total === 0 ? width : Math.min(width, Math.floor((done / total) * width));
    const bar = width >= 10 ? ` [${"█".repeat(filled)}${"░".repeat(width - filled)}]` : "";
    stream.write(`\r\x1b[2K${`${label}${bar} ${parts.join("  ")}`.slice(0, columns)}`);
  };

  const timer = tty ? setInterval(draw, REDRAW_MS) : undefined;
  timer?.unref();
  if (tty) draw();

  return {
    advance(n, nextNote) {
      done += n;
      note = nextNote ?? note;
      const now = performance.now();
      samples.push([now, done]);
      if (samples.length > RATE_WINDOW + 1) samples.shift();
      if (tty) {
        if (now - drawnAt >= 100 || done >= total) draw();
      } else if (now - lastLine >= lineEveryMs || done >= total) {
        lastLine = now;
        stream.write(`${label} ${fields(now).join("  ")}\n`);
      }
    },
    finish() {
      if (timer !== undefined) clearInterval(timer);
      if (tty) {
        draw();
        stream.write("\n");
      }
    },
  };
};
