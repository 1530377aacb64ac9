import { ADMIN_KEY, call, launchBrowser, watchConsole } from "@usage/testkit";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  postHits,
  type Registered,
  register,
  resize,
  type Stack,
  screenshot,
  signIn,
  startStack,
  unexpected,
  VIEWPORTS,
} from "./support.ts";

/** The admin's view in a real Chromium against a real gateway and worker. */
describe("dashboard: the admin's view", () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const acme: Registered[] = [];
  let zeta: Registered;

  const rows = (p: Page) => p.getByTestId("client-rows").locator("tr");
  const rowNames = async (p: Page): Promise<string[]> => rows(p).locator("td:first-child").allTextContents();

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
    for (let i = 1; i <= 12; i++) acme.push(await register(stack.gateway.base, `Acme ${String(i).padStart(2, "0")}`));
    zeta = await register(stack.gateway.base, "Zeta Labs");
    await postHits(stack.gateway.base, acme[0]!.apiKey, 4);
    await postHits(stack.gateway.base, zeta.apiKey, 2);
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    page = await context.newPage();
    errors = watchConsole(page).errors;
    await signIn(page, stack.gateway.base, ADMIN_KEY);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("shows the service's figures, the top clients and every client with its 7-day totals", async () => {
    await expect.poll(() => page.getByTestId("stream-state").textContent()).toBe("Live");
    await expect.poll(() => page.getByTestId("stat-fleet").textContent(), { timeout: 5_000 }).toBe("1 · 1");
    await expect.poll(() => page.getByTestId("stat-ingest").textContent()).toMatch(/^[\d.]+\/s$/);
    await expect.poll(() => page.getByTestId("top-rows").locator("tr td:nth-child(2)").allTextContents()).toEqual(["Acme 01", "Zeta Labs"]);
    // Newest first, the 13 clients, zero-usage ones included.
    await expect.poll(() => rowNames(page)).toEqual(["Zeta Labs", ...acme.map((c) => c.name).reverse()]);
    const acme01 = rows(page).filter({ hasText: "Acme 01" });
    expect(await acme01.locator('[data-col="week"]').textContent()).toBe("4");
    await screenshot(page, "dashboard-admin");
  });

  it("follows hits live: a client's row and the top list change within 2 s of the 202, without a reload", async () => {
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    const acme07 = acme[6]!;
    const accepted = Date.now();
    expect(await postHits(stack.gateway.base, acme07.apiKey, 6)).toEqual(Array(6).fill(202));
    await rows(page).filter({ hasText: "Acme 07" }).locator('[data-col="today"]').filter({ hasText: /^6$/ }).waitFor({ timeout: 2_000 });
    expect(Date.now() - accepted).toBeLessThan(2_000);
    await expect
      .poll(() => page.getByTestId("top-rows").locator("tr td:nth-child(2)").first().textContent(), { timeout: 4_000 })
      .toBe("Acme 07");
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it("pages through the clients and searches them by name prefix and by email", async () => {
    await page.getByLabel("Rows").selectOption("10");
    await expect.poll(() => rowNames(page)).toHaveLength(10);
    expect(await page.getByRole("button", { name: "Previous page" }).isDisabled()).toBe(true);
    const first = await rowNames(page);
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => rowNames(page)).toEqual(["Acme 03", "Acme 02", "Acme 01"]);
    expect(await page.getByTestId("page-position").textContent()).toBe("Page 2");
    expect(await page.getByRole("button", { name: "Next page" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => rowNames(page)).toEqual(first);

    await page.getByLabel("Search clients").fill("zeta");
    await page.getByLabel("Search clients").press("Enter");
    await expect.poll(() => rowNames(page)).toEqual(["Zeta Labs"]);
    expect(await rows(page).locator('[data-col="week"]').textContent()).toBe("2");
    await page.getByLabel("Search clients").fill(acme[4]!.email.toUpperCase());
    await page.getByLabel("Search clients").press("Enter");
    await expect.poll(() => rowNames(page)).toEqual(["Acme 05"]);
    await page.getByLabel("Search clients").fill("nobody-like-this");
    await page.getByLabel("Search clients").press("Enter");
    await expect.poll(() => rows(page).textContent()).toMatch(/No client matches/);
    await page.getByLabel("Search clients").fill("");
    await page.getByLabel("Search clients").press("Enter");
    await expect.poll(() => rowNames(page)).toHaveLength(10);
  });

  it("opens a client, sets its quota from the page, and the API enforces it", async () => {
    const target = acme[1]!;
    await page.getByLabel("Search clients").fill(target.name);
    await page.getByLabel("Search clients").press("Enter");
    await expect.poll(() => rowNames(page)).toEqual([target.name]);
    await rows(page).getByRole("link", { name: target.name }).click();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe(target.name);
    await expect.poll(() => page.getByTestId("detail-key-age").textContent()).toMatch(/ago/);
    await expect.poll(() => page.getByTestId("quota-used").textContent()).toBe("0");
    await page.getByLabel("Hourly quota").fill("2");
    await page.getByRole("button", { name: "Save quota" }).click();
    await expect.poll(() => page.getByTestId("action-result").textContent()).toBe("Quota set to 2 hits per hour.");
    expect(await postHits(stack.gateway.base, target.apiKey, 3)).toEqual([202, 202, 429]);
    // The page's quota card and chart follow the hits it just allowed.
    await expect.poll(() => page.getByTestId("quota-remaining").textContent(), { timeout: 4_000 }).toBe("0");
    await expect.poll(() => page.getByTestId("today-total").textContent(), { timeout: 4_000 }).toBe("2");
    await screenshot(page, "dashboard-admin-client");
    await resize(page, VIEWPORTS.phone);
    await screenshot(page, "dashboard-admin-client-phone");
    await resize(page, VIEWPORTS.desktop);
  });

  it("keeps the client open when the skip link is used, and says so for an id no client has", async () => {
    const shown = await page.getByRole("heading", { level: 1 }).textContent();
    await page.getByRole("link", { name: "Skip to content" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("main");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(shown);

    // A tab of its own (sessionStorage is per tab): signed in, then a link to nobody.
    const other = await browser.newPage();
    const console = watchConsole(other);
    await signIn(other, stack.gateway.base, ADMIN_KEY);
    await other.goto(`${stack.gateway.base}/dashboard#/clients/00000000-0000-4000-8000-000000000000`);
    await expect.poll(() => other.getByTestId("missing-client").textContent()).toMatch(/No client has the id/);
    expect(unexpected(console.errors, /Failed to load resource: the server responded with a status of 404/)).toEqual([]);
    await other.close();
  });

  it("rotates a key and revokes a client, each after a confirmation, with the API agreeing", async () => {
    const target = acme[1]!;
    await page.getByRole("button", { name: "Rotate key…" }).click();
    const rotateDialog = page.getByRole("dialog");
    await rotateDialog.getByRole("button", { name: "Cancel" }).click();
    await rotateDialog.waitFor({ state: "detached" });
    expect((await call(stack.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": target.apiKey })).status).toBe(200);

    await page.getByRole("button", { name: "Rotate key…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Rotate key" }).click();
    const newKey = (await page.getByTestId("new-key").textContent()) ?? "";
    expect(newKey.length).toBeGreaterThan(30);
    expect((await call(stack.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": newKey })).status).toBe(200);
    expect((await call(stack.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": target.apiKey })).status).toBe(401);

    await page.getByRole("button", { name: "Revoke client…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
    await expect.poll(() => page.getByTestId("action-result").textContent()).toBe(`${target.name} is revoked.`);
    expect((await call(stack.gateway.base, "POST", "/api/auth/token", undefined, { "x-api-key": newKey })).status).toBe(401);

    await page.getByRole("link", { name: "← All clients" }).click();
    await expect.poll(() => rows(page).filter({ hasText: target.name }).locator(".badge").textContent()).toBe("Revoked");
    expect(errors).toEqual([]);
  });
});
