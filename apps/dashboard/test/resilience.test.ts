import { launchBrowser, startTcpProxy, type TcpProxy, watchConsole } from "@usage/testkit";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postHits, register, type Stack, signIn, startStack, unexpected } from "./support.ts";

// What Chromium itself prints while the network is cut: expected then, and only then.
const NETWORK_NOISE = /WebSocket connection to .* failed|Failed to load resource: net::ERR_|ERR_CONNECTION/;

/** The page between the browser and the gateway cut and restored (a TCP proxy), as a user on a bad network sees it. */
describe("dashboard: when the service goes away", () => {
  let stack: Stack;
  let browser: Browser;
  let proxy: TcpProxy;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
    proxy = await startTcpProxy(Number(new URL(stack.gateway.base).port));
  });
  afterAll(async () => {
    await proxy?.close();
    await browser?.close();
    await stack?.stop();
  });

  it("shows 'reconnecting' and a clear message while cut, then reconnects and catches up from the snapshot", async () => {
    const client = await register(stack.gateway.base, "Flaky Network GmbH");
    await postHits(stack.gateway.base, client.apiKey, 1);
    const page = await browser.newPage();
    const console = watchConsole(page);
    await signIn(page, proxy.url("http"), client.apiKey);
    await expect.poll(() => page.getByTestId("stream-state").textContent()).toBe("Live");
    await expect.poll(() => page.getByTestId("today-total").textContent()).toBe("1");
    expect(console.errors).toEqual([]);

    proxy.cut();
    await expect.poll(() => page.getByTestId("stream-state").textContent(), { timeout: 5_000 }).toBe("Reconnecting…");
    await expect.poll(() => page.getByTestId("problem").textContent(), { timeout: 5_000 }).toMatch(/not answering/);
    // Hits the page cannot hear about while it is away.
    expect(await postHits(stack.gateway.base, client.apiKey, 4)).toEqual(Array(4).fill(202));
    await page.waitForTimeout(1_500);
    expect(await page.getByTestId("today-total").textContent()).toBe("1");

    proxy.restore();
    await expect.poll(() => page.getByTestId("stream-state").textContent(), { timeout: 10_000 }).toBe("Live");
    await expect.poll(() => page.getByTestId("today-total").textContent(), { timeout: 5_000 }).toBe("5");
    await expect.poll(() => page.getByTestId("problem").isHidden(), { timeout: 10_000 }).toBe(true);
    // Live again: a new hit shows without a reload.
    await postHits(stack.gateway.base, client.apiKey, 1);
    await expect.poll(() => page.getByTestId("today-total").textContent(), { timeout: 2_000 }).toBe("6");
    expect(unexpected(console.errors, NETWORK_NOISE)).toEqual([]);
    await page.close();
  });

  it("says the service is not answering when sign-in cannot reach it, instead of a blank page", async () => {
    const client = await register(stack.gateway.base, "Offline Sign-in BV");
    const page = await browser.newPage();
    const console = watchConsole(page);
    await page.goto(proxy.url("http", "/dashboard"));
    await page.getByLabel("API key").fill(client.apiKey);
    proxy.cut();
    try {
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(() => page.getByTestId("sign-in-message").textContent()).toMatch(/not answering/);
    } finally {
      proxy.restore();
    }
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(unexpected(console.errors, NETWORK_NOISE)).toEqual([]);
    await page.close();
  });
});
