import { type Api, ApiError } from "./api.ts";
import type { Client, DailyUsage, RotatedKey, UsageUpdated } from "./api-types.ts";
import { confirmAction } from "./confirm.ts";
import { fill, h } from "./dom.ts";
import { ago, count, today, utcDateTime } from "./format.ts";
import { QuotaCard } from "./quota-card.ts";
import { UsagePanel } from "./usage-panel.ts";
import { quietly, throttle } from "./view.ts";

const GRACE = [
  { label: "No grace: the old key stops now", seconds: 0 },
  { label: "1 hour", seconds: 3_600 },
  { label: "24 hours", seconds: 86_400 },
] as const;

/** One client, for the admin: usage, quota, key age, and the operator actions of the API. */
export class ClientDetail {
  readonly element: HTMLElement;
  private readonly api: Api;
  private readonly clientId: string;
  private readonly usage = new UsagePanel();
  private readonly quota: QuotaCard;
  // Focusable, so that opening a client moves the focus (and a screen reader) to it.
  private readonly title = h("h1", { tabindex: "-1" }, "Client");
  private readonly facts = h("dl", { class: "facts" });
  private readonly actions = h("section", { class: "card wide", "aria-labelledby": "actions-title" });
  private readonly notice = h("p", { class: "notice", role: "status", tabindex: "-1", "data-testid": "action-result" });
  private readonly reread: ReturnType<typeof throttle>;
  private readonly refreshQuota: ReturnType<typeof throttle>;
  private client: Client | undefined;

  constructor(api: Api, clientId: string) {
    this.api = api;
    this.clientId = clientId;
    this.quota = new QuotaCard(api, clientId);
    this.refreshQuota = throttle(1_000, () => quietly(this.quota.refresh()));
    this.reread = throttle(2_000, () => quietly(this.refresh()));
    this.element = h(
      "div",
      { class: "view" },
      h("p", {}, h("a", { href: "#/", class: "back" }, "← All clients")),
      h("div", { class: "view-head" }, this.title, this.facts),
      h("div", { class: "cards" }, this.usage.today, this.usage.week, this.quota.element),
      this.usage.chartCard,
      this.actions,
    );
  }

  focus(): void {
    this.title.focus();
  }

  async refresh(): Promise<void> {
    let client: Client;
    try {
      client = await this.api.get<Client>(`/api/clients/${this.clientId}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.missing();
      throw error;
    }
    const [daily] = await Promise.all([this.api.get<DailyUsage>(`/api/usage/daily?client_ids=${this.clientId}`), this.quota.refresh()]);
    this.show(client);
    const days = daily.data[0]?.days;
    if (days !== undefined) this.usage.set(days);
  }

  update(message: UsageUpdated): void {
    if (message.client_id !== this.clientId) return;
    // A day off the chart: today's is a new UTC day (read again); an older one is not shown.
    if (!this.usage.setDay(message.date, message.total_requests) && message.date >= today()) this.reread();
    this.refreshQuota();
  }

  destroy(): void {
    this.refreshQuota.cancel();
    this.reread.cancel();
    this.quota.destroy();
    this.usage.destroy();
  }

  /** An id no client has (a stale link, a typo): say so, not an empty page. */
  private missing(): void {
    this.element.replaceChildren(
      h("p", {}, h("a", { href: "#/", class: "back" }, "← All clients")),
      h("h1", { tabindex: "-1" }, "No such client"),
      h("p", { class: "muted", "data-testid": "missing-client" }, `No client has the id ${this.clientId}.`),
    );
  }

  private show(client: Client): void {
    this.client = client;
    this.title.replaceChildren(client.name);
    if (client.revoked_at !== null) this.title.append(" ", h("span", { class: "badge bad" }, "Revoked"));
    const fact = (term: string, value: string | Node): HTMLElement[] => [h("dt", {}, term), h("dd", {}, value)];
    fill(
      this.facts,
      ...fact("Email", client.email),
      ...fact("Client id", h("code", {}, client.client_id)),
      ...fact("Created", utcDateTime(client.created_at)),
      ...fact(
        "Key age",
        h("span", { "data-testid": "detail-key-age" }, `${ago(client.key_created_at)} (${utcDateTime(client.key_created_at)})`),
      ),
      ...fact("Hourly quota", client.rate_limit_per_hour === null ? "the default" : count(client.rate_limit_per_hour)),
      ...(client.revoked_at === null ? [] : fact("Revoked", utcDateTime(client.revoked_at))),
    );
    this.renderActions(client);
  }

  private renderActions(client: Client): void {
    const heading = h("h2", { id: "actions-title" }, "Manage");
    if (client.revoked_at !== null) {
      fill(
        this.actions,
        heading,
        h("p", { class: "muted" }, "This client is revoked: its keys and tokens are refused. Its stored hits stay counted."),
        this.notice,
      );
      return;
    }
    const input = h("input", {
      id: "quota-input",
      type: "number",
      min: 0,
      max: 1_000_000_000,
      step: 1,
      inputmode: "numeric",
      value: client.rate_limit_per_hour ?? "",
      placeholder: "default",
    });
    const quotaForm = h(
      "form",
      { class: "toolbar" },
      h("label", { for: "quota-input" }, "Hourly quota"),
      input,
      h("button", { type: "submit", class: "button primary" }, "Save quota"),
      h("span", { class: "hint" }, "Empty: the default. 0 blocks every hit."),
    );
    quotaForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      const value = text === "" ? null : Number(text);
      if (value !== null && (!Number.isInteger(value) || value < 0)) {
        this.say("The quota is a whole number, 0 or more.");
        return;
      }
      quietly(
        this.act(async () => {
          const updated = await this.api.send<Client>("PATCH", `/api/clients/${this.clientId}`, { rate_limit_per_hour: value });
          this.show(updated);
          await this.quota.refresh();
          return value === null ? "Quota set to the default." : `Quota set to ${count(value)} hits per hour.`;
        }),
      );
    });
    const rotate = h("button", { type: "button", class: "button", onclick: () => quietly(this.rotate()) }, "Rotate key…");
    const revoke = h("button", { type: "button", class: "button danger", onclick: () => quietly(this.revoke()) }, "Revoke client…");
    fill(this.actions, heading, quotaForm, h("div", { class: "toolbar" }, rotate, revoke), this.notice);
  }

  private async rotate(): Promise<void> {
    const select = h("select", { id: "grace-select" }, ...GRACE.map((g) => h("option", { value: g.seconds }, g.label)));
    const confirmed = await confirmAction({
      title: `Rotate ${this.client?.name ?? "this client"}'s key?`,
      body: [
        "A new key works at once and is shown only once. Clients using the old key must switch to the new one.",
        h("p", {}, h("label", { for: "grace-select" }, "The old key keeps working for "), select),
      ],
      confirmLabel: "Rotate key",
    });
    if (!confirmed) return;
    await this.act(async () => {
      const rotated = await this.api.send<RotatedKey>("POST", `/api/clients/${this.clientId}/keys`, {
        grace_seconds: Number(select.value),
      });
      quietly(this.refresh());
      return h(
        "span",
        {},
        "New key (shown once): ",
        h("code", { class: "secret", "data-testid": "new-key" }, rotated.api_key),
        " ",
        h(
          "button",
          { type: "button", class: "button small", onclick: () => quietly(navigator.clipboard.writeText(rotated.api_key)) },
          "Copy",
        ),
        ` The previous key works until ${utcDateTime(rotated.previous_key_expires_at)}.`,
      );
    });
  }

  private async revoke(): Promise<void> {
    const name = this.client?.name ?? "this client";
    const confirmed = await confirmAction({
      title: `Revoke ${name}?`,
      body: [
        "Every key and token of this client stops working on every gateway at once, and its open streams close. Hits already accepted stay stored and counted. This cannot be undone.",
      ],
      confirmLabel: "Revoke",
      danger: true,
    });
    if (!confirmed) return;
    await this.act(async () => {
      this.show(await this.api.send<Client>("POST", `/api/clients/${this.clientId}/revoke`));
      return `${name} is revoked.`;
    });
  }

  /** Runs an action and says how it went; a refusal's message is the API's own. */
  private async act(run: () => Promise<string | Node>): Promise<void> {
    try {
      this.say(await run());
    } catch (error) {
      this.say(error instanceof ApiError ? `Not done: ${error.message}` : "Not done: something went wrong.");
    }
  }

  /** Says how an action went, and moves the focus there: the controls it used may have been rebuilt. */
  private say(message: string | Node): void {
    fill(this.notice, message);
    this.notice.focus();
  }
}
