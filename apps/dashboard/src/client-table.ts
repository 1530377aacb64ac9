import type { Api } from "./api.ts";
import type { Client, ClientList, DailyUsage, UsageUpdated } from "./api-types.ts";
import { fill, h } from "./dom.ts";
import { ago, count } from "./format.ts";
import { quietly, throttle } from "./view.ts";

type Days = DailyUsage["data"][number]["days"];
interface RowCells {
  today: HTMLElement;
  week: HTMLElement;
  days: Days;
}

const PAGE_SIZES = [10, 25, 50] as const;

/**
 * Every client (GET /api/clients: newest first, searchable by name prefix or whole email)
 * with its 7-day totals (GET /api/usage/daily?client_ids=…), one page at a time; the
 * totals of the rows on screen follow the stream.
 */
export class ClientTable {
  readonly element: HTMLElement;
  private readonly api: Api;
  private readonly body = h("tbody", { "data-testid": "client-rows" });
  private readonly search = h("input", {
    id: "client-search",
    type: "search",
    name: "q",
    autocomplete: "off",
    placeholder: "Name prefix or email",
  });
  private readonly size = h("select", { id: "page-size" }, ...PAGE_SIZES.map((n) => h("option", { value: n, selected: n === 25 }, n)));
  private readonly previous = h("button", { type: "button", class: "button" }, "Previous page");
  private readonly next = h("button", { type: "button", class: "button" }, "Next page");
  private readonly position = h("span", { class: "muted", "aria-live": "polite", "data-testid": "page-position" });
  private readonly cells = new Map<string, RowCells>();
  /** cursors[i] opens page i; page 0 needs none. */
  private cursors: Array<string | undefined> = [undefined];
  private page = 0;
  private hasNext = false;
  private query = "";
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Numbers the reads: an answer that a newer read overtook is dropped. */
  private reads = 0;
  /** A hit of a day the rows do not show yet (a new UTC day): read the page again, at most every 2 s. */
  private readonly reloadForNewDay = throttle(2_000, () => quietly(this.load()));

  constructor(api: Api) {
    this.api = api;
    const form = h(
      "form",
      { class: "toolbar", role: "search" },
      h("label", { for: "client-search" }, "Search clients"),
      this.search,
      h("button", { type: "submit", class: "button" }, "Search"),
      h("label", { for: "page-size" }, "Rows"),
      this.size,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.restart();
    });
    this.search.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.restart(), 300);
    });
    this.size.addEventListener("change", () => this.restart(true));
    this.previous.addEventListener("click", () => this.go(this.page - 1));
    this.next.addEventListener("click", () => this.go(this.page + 1));
    const head = h(
      "tr",
      {},
      ...["Client", "Email", "Today", "7 days", "Quota / h", "Status", "Key age"].map((t, i) =>
        h("th", { scope: "col", class: i === 1 ? "email" : i >= 2 && i <= 4 ? "num" : undefined }, t),
      ),
    );
    this.element = h(
      "section",
      { class: "card wide", "aria-labelledby": "clients-title" },
      h("h2", { id: "clients-title" }, "Clients"),
      form,
      h("div", { class: "table-wrap" }, h("table", { class: "clients" }, h("thead", {}, head), this.body)),
      h("div", { class: "pager" }, this.previous, this.position, this.next),
    );
  }

  refresh(): Promise<void> {
    return this.load();
  }

  /** A live total for a client on this page. */
  update(message: UsageUpdated): void {
    const row = this.cells.get(message.client_id);
    if (row === undefined) return;
    const day = row.days.find((d) => d.date === message.date);
    if (day === undefined) {
      const shownToday = row.days[row.days.length - 1]?.date ?? "";
      if (message.date > shownToday) this.reloadForNewDay();
      return;
    }
    day.total_requests = Math.max(day.total_requests, message.total_requests);
    this.paint(row);
  }

  destroy(): void {
    clearTimeout(this.searchTimer);
    this.reloadForNewDay.cancel();
  }

  private restart(force = false): void {
    clearTimeout(this.searchTimer);
    if (!force && this.search.value.trim() === this.query && this.page === 0) return;
    this.query = this.search.value.trim();
    this.cursors = [undefined];
    this.page = 0;
    quietly(this.load());
  }

  private go(page: number): void {
    if (page < 0 || page >= this.cursors.length) return;
    this.page = page;
    quietly(this.load());
  }

  private async load(): Promise<void> {
    const read = ++this.reads;
    const page = this.page;
    const params = new URLSearchParams({ limit: this.size.value });
    if (this.query !== "") params.set("q", this.query);
    const cursor = this.cursors[page];
    if (cursor !== undefined) params.set("cursor", cursor);
    const list = await this.api.get<ClientList>(`/api/clients?${params}`);
    const ids = list.data.map((c) => c.client_id);
    const daily = ids.length === 0 ? { data: [] } : await this.api.get<DailyUsage>(`/api/usage/daily?client_ids=${ids.join(",")}`);
    if (read !== this.reads) return;
    this.hasNext = typeof list.next_cursor === "string";
    if (this.hasNext) this.cursors[page + 1] = list.next_cursor ?? undefined;
    this.render(list.data, new Map(daily.data.map((row) => [row.client_id, this.atLeastShown(row.client_id, row.days)])));
  }

  /** A read can trail live totals already on screen (counted, not yet in its answer): keep the higher. */
  private atLeastShown(clientId: string, days: Days): Days {
    const shown = this.cells.get(clientId)?.days ?? [];
    return days.map((day) => ({
      ...day,
      total_requests: Math.max(day.total_requests, shown.find((d) => d.date === day.date)?.total_requests ?? 0),
    }));
  }

  private render(clients: readonly Client[], days: Map<string, Days>): void {
    this.cells.clear();
    if (clients.length === 0) {
      fill(
        this.body,
        h("tr", {}, h("td", { colspan: 7, class: "empty" }, this.query === "" ? "No clients yet." : `No client matches “${this.query}”.`)),
      );
    } else fill(this.body, ...clients.map((client) => this.row(client, days.get(client.client_id) ?? [])));
    this.previous.disabled = this.page === 0;
    this.next.disabled = !this.hasNext;
    this.position.textContent = `Page ${this.page + 1}`;
  }

  private row(client: Client, days: Days): HTMLElement {
    const cells: RowCells = {
      today: h("td", { class: "num", "data-col": "today" }),
      week: h("td", { class: "num", "data-col": "week" }),
      days,
    };
    this.cells.set(client.client_id, cells);
    this.paint(cells);
    return h(
      "tr",
      { "data-client-id": client.client_id },
      h("td", {}, h("a", { href: `#/clients/${client.client_id}` }, client.name)),
      h("td", { class: "email" }, client.email),
      cells.today,
      cells.week,
      h("td", { class: "num" }, client.rate_limit_per_hour === null ? "default" : count(client.rate_limit_per_hour)),
      h("td", {}, client.revoked_at === null ? h("span", { class: "badge ok" }, "Active") : h("span", { class: "badge bad" }, "Revoked")),
      h("td", {}, ago(client.key_created_at)),
    );
  }

  private paint(cells: RowCells): void {
    cells.today.textContent = count(cells.days[cells.days.length - 1]?.total_requests ?? 0);
    cells.week.textContent = count(cells.days.reduce((sum, d) => sum + d.total_requests, 0));
  }
}
