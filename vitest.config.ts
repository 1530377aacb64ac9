import { defineConfig } from "vitest/config";

const shared = {
  globalSetup: ["packages/testkit/src/global-setup.ts"],
  pool: "forks" as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: "main",
          include: ["apps/*/test/**/*.test.ts", "packages/*/test/**/*.test.ts", "loadtest/test/**/*.test.ts", "test/e2e/**/*.test.ts"],
          sequence: { groupOrder: 0 },
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
