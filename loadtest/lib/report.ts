/**
 * What was running when a figure was measured: a figure of the gateway alone says nothing
 * about how fast hits reach Postgres, and one of the whole system is not the gateway's.
 */
export const SCOPES = {
  "gateway alone": "the gateway with Redis and Postgres, no worker running: accepted hits wait in the queue",
  "worker alone": "the worker draining a queue filled beforehand: no HTTP",
  "whole system": "gateway + worker + Redis + Postgres together: hits accepted by HTTP until committed",
  "per process": "one process's resident memory, whatever ran around it",
  "sdk alone": "the SDK in the benchmark's own process, with no request sent",
  baseline: "not the service: a comparison measured in the same run",
} as const;
export type Scope = keyof typeof SCOPES;

export interface Figure {
  what: string;
  scope: Scope;
  value: number;
  unit: string;
  /** The figure it is compared with, measured in the same run. */
  baseline?: { what: string; value: number };
  /** Target: the value (or ratio to the baseline) must be ≥ min or ≤ max. */
  target?: { min?: number; max?: number; ofBaseline?: boolean };
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n >= 10 ? 1 : 2));

export const ratioOf = (f: Figure): number | undefined =>
  f.baseline === undefined || f.baseline.value === 0 ? undefined : f.value / f.baseline.value;

export const passes = (f: Figure): boolean | undefined => {
  if (f.target === undefined) return undefined;
  const measured = f.target.ofBaseline ? ratioOf(f) : f.value;
  if (measured === undefined) return undefined;
  return (f.target.min === undefined || measured >= f.target.min) && (f.target.max === undefined || measured <= f.target.max);
};

const targetText = (f: Figure): string => {
  if (f.target === undefined) return "";
  const of = f.target.ofBaseline ? " × baseline" : ` ${f.unit}`;
  return f.target.min !== undefined ? `≥ ${fmt(f.target.min)}${of}` : `≤ ${fmt(f.target.max as number)}${of}`;
};

/** The scopes the figures use, in SCOPES' order, each with what it means and which figures have it. */
export const scopeLegend = (figures: Figure[]): Array<{ scope: Scope; meaning: string; figures: string[] }> =>
  (Object.keys(SCOPES) as Scope[])
    .map((scope) => ({ scope, meaning: SCOPES[scope], figures: figures.filter((f) => f.scope === scope).map((f) => f.what) }))
    .filter((entry) => entry.figures.length > 0);

export const markdownTable = (figures: Figure[]): string => {
  const legend = scopeLegend(figures).map(({ scope, meaning }) => `- **${scope}**: ${meaning}`);
  const rows = figures.map((f) => {
    const ratio = ratioOf(f);
    const pass = passes(f);
    return `| ${f.what} | ${f.scope} | ${fmt(f.value)} ${f.unit} | ${f.baseline ? `${f.baseline.what}: ${fmt(f.baseline.value)}` : ""} | ${ratio === undefined ? "" : `${ratio.toFixed(2)} ×`} | ${targetText(f)} | ${pass === undefined ? "" : pass ? "✅" : "❌"} |`;
  });
  return [
    "Scope: what was running when a figure was measured.",
    "",
    ...legend,
    "",
    "| figure | scope | measured | baseline (same run) | ratio | target | |",
    "|---|---|---:|---|---:|---|---|",
    ...rows,
  ].join("\n");
};

/** The figures as text, under a header saying which are the gateway alone and which the whole system. */
export const textTable = (figures: Figure[]): string => {
  const legend = scopeLegend(figures).map(({ scope, meaning }) => `  ${scope.padEnd(14)} ${meaning}`);
  const rows = figures.map((f) => {
    const ratio = ratioOf(f);
    const pass = passes(f);
    return `${f.what.padEnd(52)} ${f.scope.padEnd(14)} ${`${fmt(f.value)} ${f.unit}`.padStart(18)}  ${ratio === undefined ? "".padStart(8) : `${ratio.toFixed(2)} ×`.padStart(8)}  ${targetText(f).padEnd(22)} ${pass === undefined ? "" : pass ? "pass" : "MISS"}`;
  });
  return ["Scope: what was running when a figure was measured.", ...legend, "", ...rows].join("\n");
};

const escapeXml = (text: string): string => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** Horizontal bars, one panel per group, with the target drawn as a dashed line. */
const barPanel = (
  title: string,
  bars: Array<{ label: string; value: number; target?: number }>,
  unit: string,
  y0: number,
): { svg: string; height: number } => {
  const width = 860;
  const left = 300;
  const barHeight = 22;
  const max = Math.max(...bars.map((b) => Math.max(b.value, b.target ?? 0)), 1e-9) * 1.15;
  const scale = (v: number): number => left + ((width - left - 40) * v) / max;
  let svg = `<text x="10" y="${y0 + 18}" font-size="15" font-weight="bold">${escapeXml(title)}</text>`;
  bars.forEach((bar, i) => {
    const y = y0 + 32 + i * (barHeight + 8);
    const ok = bar.target === undefined || (unit === "ms" || unit === "MB" ? bar.value <= bar.target : bar.value >= bar.target);
    svg += `<text x="${left - 8}" y="${y + 16}" font-size="12" text-anchor="end">${escapeXml(bar.label)}</text>`;
    svg += `<rect x="${left}" y="${y}" width="${Math.max(1, scale(bar.value) - left)}" height="${barHeight}" fill="${ok ? "#3b82f6" : "#ef4444"}"/>`;
    svg += `<text x="${scale(bar.value) + 6}" y="${y + 16}" font-size="12">${fmt(bar.value)} ${unit}</text>`;
    if (bar.target !== undefined) {
      svg += `<line x1="${scale(bar.target)}" x2="${scale(bar.target)}" y1="${y - 3}" y2="${y + barHeight + 3}" stroke="#111" stroke-dasharray="4 3"/>`;
    }
  });
  return { svg, height: 40 + bars.length * (barHeight + 8) + 10 };
};

const linePanel = (
  title: string,
  samples: Array<Record<string, number>>,
  series: string[],
  y0: number,
): { svg: string; height: number } => {
  const width = 860;
  const left = 60;
  const height = 220;
  const maxX = Math.max(...samples.map((s) => s.at ?? 0), 1);
  const maxY = Math.max(...samples.flatMap((s) => series.map((k) => s[k] ?? 0)), 1) * 1.2;
  const colors = ["#3b82f6", "#f59e0b", "#10b981"];
  let svg = `<text x="10" y="${y0 + 18}" font-size="15" font-weight="bold">${escapeXml(title)}</text>`;
  const x = (v: number): number => left + ((width - left - 20) * v) / maxX;
  const y = (v: number): number => y0 + 30 + height - (height * v) / maxY;
  svg += `<line x1="${left}" x2="${width - 20}" y1="${y(0)}" y2="${y(0)}" stroke="#999"/>`;
  svg += `<text x="${left - 6}" y="${y(maxY / 1.2) + 4}" font-size="11" text-anchor="end">${fmt(maxY / 1.2)} MB</text>`;
  svg += `<text x="${width - 20}" y="${y(0) + 16}" font-size="11" text-anchor="end">${fmt(maxX)} s</text>`;
  series.forEach((name, i) => {
    const points = samples.map((s) => `${x(s.at ?? 0).toFixed(1)},${y(s[name] ?? 0).toFixed(1)}`).join(" ");
    svg += `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" points="${points}"/>`;
    svg += `<text x="${left + 10 + i * 140}" y="${y0 + 30 + height + 24}" font-size="12" fill="${colors[i % colors.length]}">■ ${escapeXml(name)} RSS</text>`;
  });
  return { svg, height: height + 70 };
};

export interface ChartInput {
  throughput: Array<{ label: string; value: number; target?: number }>;
  latency: Array<{ label: string; value: number; target?: number }>;
  memory: Array<{ label: string; value: number; target?: number }>;
  soak?: Array<Record<string, number>>;
}

/** The benchmark as a picture: throughput ratios, latencies and memory against the bars. */
export const chartSvg = (input: ChartInput): string => {
  let y = 10;
  let body = "";
  for (const [title, bars, unit] of [
    ["Throughput, as a ratio to its baseline (dashed: the bar)", input.throughput, "×"],
    ["Latency (dashed: the bar)", input.latency, "ms"],
    ["Peak resident memory (dashed: the bar)", input.memory, "MB"],
  ] as const) {
    const panel = barPanel(title, [...bars], unit, y);
    body += panel.svg;
    y += panel.height;
  }
  if (input.soak !== undefined && input.soak.length > 1) {
    const panel = linePanel("Soak: resident memory over time", input.soak, ["gateway", "worker"], y);
    body += panel.svg;
    y += panel.height;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="880" height="${y + 10}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/>${body}</svg>\n`;
};

/**
 * `doc` with the section under `heading` (a "## " line) holding `body`: its old body, up to
 * the next "## " heading, replaced; a section not there yet goes before the first one, so
 * the newest run reads first and every other section stays as it was.
 */
export const replaceSection = (doc: string, heading: string, body: string): string => {
  const section = `${heading}\n\n${body.trim()}\n\n`;
  const at = doc.indexOf(`\n${heading}\n`);
  if (at >= 0) {
    const next = doc.indexOf("\n## ", at + heading.length + 1);
    return `${doc.slice(0, at + 1)}${section}${next < 0 ? "" : doc.slice(next + 1)}`.replace(/\n+$/, "\n");
  }
  const first = doc.indexOf("\n## ");
  return first < 0
    ? `${doc.replace(/\n*$/, "\n\n")}${section}`.replace(/\n+$/, "\n")
    : `${doc.slice(0, first + 1)}${section}${doc.slice(first + 1)}`;
};
