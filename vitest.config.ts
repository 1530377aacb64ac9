import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

const sdkSource = (file: string): string => fileURLToPath(new URL(`packages/sdk/src/${file}`, import.meta.url));

const shared = {
  globalSetup: ["packages/testkit/src/global-setup.ts"],
  pool: "forks" as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // expect.poll's own default (1 s) is short for a browser and two processes on 2 busy cores;
  // a test that bounds a delay (the 2 s freshness) passes its own timeout.
  expect: { poll: { timeout: 5_000 } },
};

export default defineConfig({
  // Code under test that imports the SDK by its package name (the example API) gets its
  // sources, not a dist/ that only a build makes.
  resolve: {
    alias: [
      { find: /^@usage\/sdk$/, replacement: sdkSource("index.ts") },
      { find: /^@usage\/sdk\/(fastify|express)$/, replacement: sdkSource("$1.ts") },
    ],
  },
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: "main",
          include: ["apps/*/test/**/*.test.ts", "packages/*/test/**/*.test.ts", "loadtest/test/**/*.test.ts", "test/e2e/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "apps/dashboard/test/**"],
          sequence: { groupOrder: 0 },
        },
      },
      // The dashboard in Chromium, one file at a time after the rest: a browser, a gateway and a
      // worker per file, and a 2 s freshness bar that a machine busy with other files would blur.
      {
        test: {
          ...shared,
          name: "browser",
          include: ["apps/dashboard/test/**/*.test.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      // Alone and last: the fault suite kills processes and loads both cores for minutes, which
      // would make the timing assertions of the other tests (1 s freshness, 2 s stream) flaky.
      {
        test: {
          ...shared,
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 600_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
