import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ClientDaily } from "./api-types.ts";
import { h } from "./dom.ts";
import { count, dayLabel, dayTitle } from "./format.ts";

type Day = ClientDaily["days"][number];

/** Hits are whole: the y axis never steps by a fraction. */
const WHOLE_STEPS = Array.from({ length: 10 }, (_, power) => [1, 2, 5].map((m) => m * 10 ** power)).flat();

const cssColor = (name: string, fallback: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/**
 * Seven days as bars (uPlot: a canvas, ~50 kB, no inline styles or scripts, so the page's
 * CSP stays at 'self'). Beside it, the same numbers as a table for screen readers.
 */
export class DayChart {
  readonly element: HTMLElement;
  private readonly plotHost = h("div", { class: "chart-plot" });
  private readonly table = h("table", { class: "visually-hidden", "data-testid": "chart-table" });
  private plot: uPlot | undefined;
  private days: Day[] = [];
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(label: string) {
    this.element = h("figure", { class: "chart", "aria-label": label }, this.plotHost, this.table);
    this.resize.observe(this.plotHost);
  }

  set(days: readonly Day[]): void {
    this.days = days.map((day) => ({ ...day }));
    this.render();
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }

  private render(): void {
    const xs = this.days.map((_, i) => i);
    const ys = this.days.map((d) => d.total_requests);
    this.table.replaceChildren(
      h("caption", {}, "Hits per day (UTC)"),
      ...this.days.map((d) => h("tr", {}, h("th", { scope: "row" }, dayTitle(d.date)), h("td", {}, d.total_requests))),
    );
    if (this.plot === undefined) this.plot = this.create([xs, ys]);
    else this.plot.setData([xs, ys]);
  }

  private create(data: uPlot.AlignedData): uPlot {
    const accent = cssColor("--accent", "#1f6feb");
    const ink = cssColor("--muted", "#667");
    const grid = cssColor("--grid", "rgba(128,128,128,0.15)");
    // On a narrow chart the weekday goes: the day of the month alone still reads.
    const labels = (u: uPlot): string[] => this.days.map((d) => (u.width < 480 ? d.date.slice(8).replace(/^0/, "") : dayLabel(d.date)));
    const options: uPlot.Options = {
      width: Math.max(this.plotHost.clientWidth, 200),
      height: 220,
      legend: { show: false },
      cursor: { show: true, points: { show: false }, drag: { x: false, y: false } },
      scales: {
        x: { time: false, range: [-0.5, 6.5] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        { stroke: ink, grid: { show: false }, ticks: { show: false }, splits: () => [0, 1, 2, 3, 4, 5, 6], values: (u) => labels(u) },
        {
          stroke: ink,
          grid: { stroke: grid },
          ticks: { show: false },
          size: 56,
          incrs: WHOLE_STEPS,
          values: (_u, splits) => splits.map((v) => count(v)),
        },
      ],
      series: [
        {},
        { label: "Hits", fill: accent, stroke: accent, paths: uPlot.paths.bars?.({ size: [0.6, 56] }), points: { show: false } },
      ],
    };
    return new uPlot(options, data, this.plotHost);
  }

  private fit(): void {
    const width = this.plotHost.clientWidth;
    if (this.plot !== undefined && width > 0 && width !== this.plot.width) this.plot.setSize({ width, height: 220 });
  }
}
