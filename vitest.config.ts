import { defineConfig } from "vitest/config";

// Kept apart from dashboard/vite.config.ts: vitest would otherwise inherit vite's root and find no tests.
export default defineConfig({
  test: {
    include: ["hub/**/*.test.ts", "firmware-bridge/**/*.test.ts", "simulators/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
  },
});
