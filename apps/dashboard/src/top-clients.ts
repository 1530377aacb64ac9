import type { Api } from "./api.ts";
import type { TopUsage } from "./api-types.ts";
import { fill, h } from "./dom.ts";
import { count, utcDateTime } from "./format.ts";

const LIMIT = 10;

/** The most active clients of the last 24 hours; read again (at most every 2 s) as hits land. */
export class TopClients {
  readonly element: HTMLElement;
  private readonly body = h("tbody", { "data-testid": "top-rows" });
  private readonly window = h("p", { class: "muted" });
  private readonly api: Api;

  constructor(api: Api) {
    this.api = api;
    this.element = h(
      "section",
      { class: "card wide", "aria-labelledby": "top-title" },
      h("h2", { id: "top-title" }, "Top clients, last 24 hours"),
      this.window,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "#"),
              h("th", { scope: "col" }, "Client"),
              h("th", { scope: "col", class: "num" }, "Hits"),
            ),
          ),
          this.body,
        ),
      ),
    );
  }

  async refresh(): Promise<void> {
    const top = await this.api.get<TopUsage>(`/api/usage/top?limit=${LIMIT}`);
    this.window.textContent = `${utcDateTime(top.window.from)} to ${utcDateTime(top.window.to)}`;
    if (top.data.length === 0) {
      fill(this.body, h("tr", {}, h("td", { colspan: 3, class: "empty" }, "No hits in the last 24 hours.")));
      return;
    }
    fill(
      this.body,
      ...top.data.map((row, i) =>
        h(
          "tr",
          { "data-client-id": row.client_id },
          h("td", {}, i + 1),
          h("td", {}, h("a", { href: `#/clients/${row.client_id}` }, row.name || row.client_id)),
          h("td", { class: "num" }, count(row.total_requests)),
        ),
      ),
    );
  }
}
