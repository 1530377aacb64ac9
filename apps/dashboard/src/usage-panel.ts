import type { ClientDaily } from "./api-types.ts";
import { DayChart } from "./chart.ts";
import { h } from "./dom.ts";
import { count } from "./format.ts";

type Day = ClientDaily["days"][number];

/** One client's today and last 7 days, as live figures and a chart. Counts only ever rise. */
export class UsagePanel {
  readonly today = h("section", { class: "card" }, h("h2", {}, "Today (UTC)"));
  readonly week = h("section", { class: "card" }, h("h2", {}, "Last 7 days"));
  readonly chartCard: HTMLElement;
  private readonly todayValue = h("p", { class: "figure big", "data-testid": "today-total", "aria-live": "off" }, "—");
  private readonly weekValue = h("p", { class: "figure", "data-testid": "week-total" }, "—");
  private readonly chart = new DayChart("Hits per day over the last 7 days");
  private days: Day[] = [];

  constructor() {
    this.today.append(this.todayValue, h("p", { class: "muted" }, "Updates live as hits are stored"));
    this.week.append(this.weekValue, h("p", { class: "muted" }, "Including today"));
    this.chartCard = h("section", { class: "card wide" }, h("h2", {}, "Hits per day"), this.chart.element);
  }

  set(days: readonly Day[]): void {
    // A read can trail a live total already shown (counted, not yet in this answer): keep the higher.
    this.days = days.map((day) => ({ ...day, total_requests: Math.max(day.total_requests, this.totalOf(day.date)) }));
    this.render();
  }

  /** A live total; false when the day is not on the chart (a new UTC day began: read again). */
  setDay(date: string, total: number): boolean {
    const day = this.days.find((d) => d.date === date);
    if (day === undefined) return false;
    day.total_requests = Math.max(day.total_requests, total);
    this.render();
    return true;
  }

  destroy(): void {
    this.chart.destroy();
  }

  private totalOf(date: string): number {
    return this.days.find((d) => d.date === date)?.total_requests ?? 0;
  }

  private render(): void {
    const last = this.days[this.days.length - 1];
    this.todayValue.textContent = last === undefined ? "—" : count(last.total_requests);
    this.weekValue.textContent = count(this.days.reduce((sum, d) => sum + d.total_requests, 0));
    this.chart.set(this.days);
  }
}
