import { ADMIN_KEY, launchBrowser, watchConsole } from "@usage/testkit";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postHits, register, resize, type Stack, screenshot, signIn, startStack, unexpected, VIEWPORTS } from "./support.ts";

/** The client's view in a real Chromium against a real gateway and worker. */
describe("dashboard: a client's view", () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("signs in with an API key, shows today live within 2 s of a hit's 202 without a reload, and signs out", async () => {
    const base = stack.gateway.base;
    const client = await register(base, "Northwind Traders");
    await postHits(base, client.apiKey, 2);
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const page = await context.newPage();
    const console = watchConsole(page);

    await signIn(page, base, client.apiKey);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Northwind Traders");
    await expect.poll(() => page.getByTestId("today-total").textContent(), { timeout: 5_000 }).toBe("2");
    await expect.poll(() => page.getByTestId("stream-state").textContent()).toBe("Live");
    await expect.poll(() => page.getByTestId("quota-used").textContent()).toBe("2");
    // The token is the tab's: in sessionStorage, never in localStorage or a readable cookie.
    const storage = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length, cookie: document.cookie }));
    expect(storage).toEqual({ session: 1, local: 0, cookie: "" });

    // A marker on the window survives only if the page is not reloaded.
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    const accepted = Date.now();
    expect(await postHits(base, client.apiKey, 3)).toEqual([202, 202, 202]);
    await page.getByTestId("today-total").filter({ hasText: /^5$/ }).waitFor({ timeout: 2_000 });
    const shownAfterMs = Date.now() - accepted;
    expect(shownAfterMs).toBeLessThan(2_000);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // The chart's own numbers (its text alternative) and the quota follow too.
    await expect.poll(() => page.getByTestId("chart-table").locator("tr").last().locator("td").textContent()).toBe("5");
    await expect.poll(() => page.getByTestId("quota-used").textContent()).toBe("5");
    await expect.poll(() => page.getByTestId("week-total").textContent()).toBe("5");

    await screenshot(page, "dashboard-client");
    await resize(page, VIEWPORTS.phone);
    await screenshot(page, "dashboard-client-phone");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(console.errors).toEqual([]);
    await context.close();
  });

  it("works from the keyboard alone: sign in with Enter, reach sign-out with Tab", async () => {
    const client = await register(stack.gateway.base, "Keyboard Only Co");
    const page = await browser.newPage();
    const console = watchConsole(page);
    await page.goto(`${stack.gateway.base}/dashboard`);
    // The key field has the focus as the page opens.
    await page.keyboard.type(client.apiKey);
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.textContent === "Sign out");
    }
    expect(reached).toBe(true);
    await page.keyboard.press("Enter");
    await page.getByLabel("API key").waitFor();
    expect(console.errors).toEqual([]);
    await page.close();
  });

  it("refuses a wrong key with a message and keeps the form", async () => {
    const page = await browser.newPage();
    const console = watchConsole(page);
    await page.goto(`${stack.gateway.base}/dashboard`);
    await page.getByLabel("API key").fill("not-a-real-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByTestId("sign-in-message").textContent()).toMatch(/not accepted/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    // Chromium's own line for the refused exchange, and nothing else.
    expect(unexpected(console.errors, /Failed to load resource: the server responded with a status of 401/)).toEqual([]);
    await page.close();
  });

  it("goes back to sign-in with a message when the token expires", async () => {
    const client = await register(stack.gateway.base, "Short Session Ltd");
    const page = await browser.newPage();
    const console = watchConsole(page);
    await signIn(page, stack.gateway.base, client.apiKey);
    // The token's own expiry, brought forward: the page must act on it without any request failing.
    await page.evaluate(() => {
      const key = sessionStorage.key(0) as string;
      const session = JSON.parse(sessionStorage.getItem(key) as string) as { expiresAt: number };
      sessionStorage.setItem(key, JSON.stringify({ ...session, expiresAt: Date.now() + 1_500 }));
    });
    await page.reload();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await expect.poll(() => page.getByTestId("sign-in-message").textContent(), { timeout: 5_000 }).toMatch(/session has ended/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(console.errors).toEqual([]);
    await page.close();
  });

  it("goes back to sign-in with a message when the client is revoked while the page is open", async () => {
    const client = await register(stack.gateway.base, "Revoked Soon Inc");
    const page = await browser.newPage();
    const console = watchConsole(page);
    await signIn(page, stack.gateway.base, client.apiKey);
    await expect.poll(() => page.getByTestId("stream-state").textContent()).toBe("Live");
    const admin = await fetch(`${stack.gateway.base}/api/auth/token`, { method: "POST", headers: { "x-api-key": ADMIN_KEY } });
    const { access_token } = (await admin.json()) as { access_token: string };
    const revoked = await fetch(`${stack.gateway.base}/api/clients/${client.clientId}/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(revoked.status).toBe(200);
    await expect.poll(() => page.getByTestId("sign-in-message").textContent(), { timeout: 5_000 }).toMatch(/session has ended/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(unexpected(console.errors, /Failed to load resource: the server responded with a status of 401/)).toEqual([]);
    await page.close();
  });
});
