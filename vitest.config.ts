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
      { test: { ...shared, name: "main", include: ["apps/*/test/**/*.test.ts", "packages/*/test/**/*.test.ts", "test/e2e/**/*.test.ts"] } },
      { test: { ...shared, name: "faults", include: ["test/faults/**/*.test.ts"], fileParallelism: false, testTimeout: 600_000 } },
    ],
  },
});
