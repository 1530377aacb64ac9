import type { Api } from "./api.ts";
import type { Client, DailyUsage } from "./api-types.ts";
import { h } from "./dom.ts";
import { ago, today } from "./format.ts";
import { QuotaCard } from "./quota-card.ts";
import { UsagePanel } from "./usage-panel.ts";
import { quietly, throttle, type View } from "./view.ts";

/** A client's own page: today live, the last 7 days, this hour's quota. */
export const clientView = (api: Api, clientId: string, setIdentity: (text: string) => void): View => {
  const usage = new UsagePanel();
  const quota = new QuotaCard(api, clientId);
  const title = h("h1", {}, "Your usage");
  const keyAge = h("p", { class: "muted", "data-testid": "key-age" });
  const element = h(
    "div",
    { class: "view" },
    h("div", { class: "view-head" }, title, keyAge),
    h("div", { class: "cards" }, usage.today, usage.week, quota.element),
    usage.chartCard,
  );
  // Hits arrive in bursts; one quota read a second is plenty.
  const refreshQuota = throttle(1_000, () => quietly(quota.refresh()));

  const loadUsage = async (): Promise<void> => {
    const body = await api.get<DailyUsage>("/api/usage/daily");
    const own = body.data[0];
    if (own !== undefined) usage.set(own.days);
  };
  const loadClient = async (): Promise<void> => {
    const client = await api.get<Client>(`/api/clients/${clientId}`);
    title.textContent = client.name;
    setIdentity(client.email);
    keyAge.textContent = `Client ${client.client_id} · key created ${ago(client.key_created_at)}`;
  };

  const refresh = async (): Promise<void> => {
    const results = await Promise.allSettled([loadClient(), loadUsage(), quota.refresh()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  };
  quietly(refresh());

  return {
    element,
    snapshot(message) {
      const own = message.data.find((d) => d.client_id === clientId);
      if (own === undefined || !usage.setDay(message.date, own.total_requests)) quietly(loadUsage());
      refreshQuota();
    },
    update(message) {
      if (message.client_id !== clientId) return;
      if (!usage.setDay(message.date, message.total_requests) && message.date >= today()) quietly(loadUsage());
      refreshQuota();
    },
    refresh,
    destroy() {
      refreshQuota.cancel();
      quota.destroy();
      usage.destroy();
    },
  };
};
