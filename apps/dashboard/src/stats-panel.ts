import type { Api } from "./api.ts";
import type { OpsStats } from "./api-types.ts";
import { h } from "./dom.ts";
import { count, rate } from "./format.ts";
import { quietly } from "./view.ts";

const POLL_MS = 2_000;

const stat = (label: string, testid: string): { card: HTMLElement; value: HTMLElement; detail: HTMLElement } => {
  const value = h("p", { class: "figure", "data-testid": testid }, "—");
  const detail = h("p", { class: "muted" });
  return { card: h("section", { class: "card" }, h("h2", {}, label), value, detail), value, detail };
};

/** The service at a glance (GET /api/ops/stats, polled: the figures are per second, not per hit). */
export class StatsPanel {
  readonly element: HTMLElement;
  private readonly ingest = stat("Ingest rate", "stat-ingest");
  private readonly depth = stat("Queue depth", "stat-queue");
  private readonly lag = stat("Queue lag", "stat-lag");
  private readonly fleet = stat("Processes", "stat-fleet");
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly api: Api;

  constructor(api: Api) {
    this.api = api;
    this.element = h("div", { class: "cards" }, this.ingest.card, this.depth.card, this.lag.card, this.fleet.card);
    this.timer = setInterval(() => quietly(this.refresh()), POLL_MS);
  }

  async refresh(): Promise<void> {
    const stats = await this.api.get<OpsStats>("/api/ops/stats");
    const q = stats.queue;
    this.ingest.value.textContent = `${rate(stats.ingest.hits_per_second)}/s`;
    this.ingest.detail.textContent = "Hits accepted, last 10 s, all gateways";
    this.depth.value.textContent = count(q.waiting + q.active + q.delayed);
    this.depth.detail.textContent = `${count(q.waiting)} waiting · ${count(q.active)} active · ${count(q.failed)} failed`;
    this.lag.value.textContent = `${rate(q.oldest_waiting_age_seconds)} s`;
    this.lag.detail.textContent = "Age of the oldest waiting job";
    this.fleet.value.textContent = `${stats.gateways} · ${stats.workers}`;
    this.fleet.detail.textContent = `gateways · workers${stats.spool.segments > 0 ? ` · ${count(stats.spool.bytes)} B spooled` : ""}`;
  }

  destroy(): void {
    clearInterval(this.timer);
  }
}
