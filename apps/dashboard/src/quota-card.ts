import type { Api } from "./api.ts";
import type { Quota } from "./api-types.ts";
import { fill, h } from "./dom.ts";
import { count, span, utcClock } from "./format.ts";
import { quietly } from "./view.ts";

/** This hour's quota of one client: used, left, and when it resets (fixed UTC hours). */
export class QuotaCard {
  readonly element: HTMLElement;
  private readonly body = h("div", { class: "card-body" }, "—");
  private quota: Quota | undefined;
  private readonly tick: ReturnType<typeof setInterval>;
  private readonly api: Api;
  private readonly clientId: string;

  constructor(api: Api, clientId: string) {
    this.api = api;
    this.clientId = clientId;
    this.element = h(
      "section",
      { class: "card", "aria-labelledby": `quota-${clientId}`, "data-testid": "quota" },
      h("h2", { id: `quota-${clientId}` }, "Quota this hour"),
      this.body,
    );
    // The countdown moves on its own; at the reset the figures are read again.
    this.tick = setInterval(() => {
      if (this.quota !== undefined && Date.parse(this.quota.reset_at) <= Date.now()) quietly(this.refresh());
      else this.render();
    }, 15_000);
  }

  async refresh(): Promise<void> {
    this.quota = await this.api.get<Quota>(`/api/clients/${this.clientId}/quota`);
    this.render();
  }

  destroy(): void {
    clearInterval(this.tick);
  }

  private render(): void {
    const q = this.quota;
    if (q === undefined) return;
    const share = q.limit_per_hour === 0 ? 1 : Math.min(1, q.used / q.limit_per_hour);
    const state = q.remaining === 0 ? "full" : share >= 0.8 ? "high" : "ok";
    fill(
      this.body,
      h(
        "p",
        { class: "figure" },
        h("span", { "data-testid": "quota-used" }, count(q.used)),
        h("span", { class: "of" }, ` of ${count(q.limit_per_hour)}`),
      ),
      h("meter", {
        min: 0,
        max: Math.max(1, q.limit_per_hour),
        value: q.used,
        low: q.limit_per_hour * 0.8,
        high: q.limit_per_hour * 0.95,
        optimum: 0,
        "aria-label": "Quota used",
        "data-state": state,
      }),
      h(
        "p",
        { class: "muted" },
        h("span", { "data-testid": "quota-remaining" }, count(q.remaining)),
        ` left · resets ${utcClock(q.reset_at)} (in ${span(Date.parse(q.reset_at) - Date.now())})`,
      ),
    );
  }
}
