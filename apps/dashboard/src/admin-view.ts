import type { Api } from "./api.ts";
import { ClientDetail } from "./client-detail.ts";
import { ClientTable } from "./client-table.ts";
import { h } from "./dom.ts";
import { StatsPanel } from "./stats-panel.ts";
import { TopClients } from "./top-clients.ts";
import { quietly, throttle, type View } from "./view.ts";

const DETAIL_ROUTE = /^#\/clients\/([0-9a-f-]{36})$/i;

/** The admin's page: the service's figures, the top clients, every client; `#/clients/<id>` for one. */
export const adminView = (api: Api): View => {
  const stats = new StatsPanel(api);
  const top = new TopClients(api);
  const table = new ClientTable(api);
  const overview = h("div", { class: "view" }, h("h1", {}, "Service overview"), stats.element, top.element, table.element);
  const element = h("div", {}, overview);
  let detail: ClientDetail | undefined;
  // Each stored batch can bring an event per client; the top list is read again at most every 2 s.
  const refreshTop = throttle(2_000, () => quietly(top.refresh()));

  const route = (): void => {
    // Only "#/…" is a route: another fragment (the skip link's #main) leaves the view as it is.
    if (location.hash !== "" && !location.hash.startsWith("#/")) return;
    const match = DETAIL_ROUTE.exec(location.hash);
    detail?.destroy();
    detail?.element.remove();
    detail = undefined;
    if (match?.[1] === undefined) {
      // Back from a client: what was done there (a quota, a revocation) shows in the list.
      if (overview.hidden) quietly(Promise.all([table.refresh(), top.refresh()]));
      overview.hidden = false;
      return;
    }
    overview.hidden = true;
    detail = new ClientDetail(api, match[1].toLowerCase());
    element.append(detail.element);
    quietly(detail.refresh());
    detail.focus();
  };
  window.addEventListener("hashchange", route);

  const settle = async (reads: Array<Promise<void> | undefined>): Promise<void> => {
    const failed = (await Promise.allSettled(reads)).find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  };
  const refresh = (): Promise<void> => settle([stats.refresh(), top.refresh(), table.refresh(), detail?.refresh()]);
  // The opening route reads its client itself: the first read here is the overview's only.
  let connectedBefore = false;
  route();
  quietly(settle([stats.refresh(), top.refresh(), table.refresh()]));

  return {
    element,
    // The first connection's snapshot comes right after the opening reads: only a
    // reconnection has something to catch up on.
    snapshot() {
      if (connectedBefore) quietly(refresh());
      connectedBefore = true;
    },
    update(message) {
      refreshTop();
      table.update(message);
      detail?.update(message);
    },
    refresh,
    destroy() {
      window.removeEventListener("hashchange", route);
      refreshTop.cancel();
      stats.destroy();
      table.destroy();
      detail?.destroy();
    },
  };
};
