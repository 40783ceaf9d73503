import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once per run (tests and benchmarks) and fails the run on any type error; reports skipped third-party checks.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2-core CI: a few workers, the end-to-end suites start their own processes.
    maxWorkers: 2,
    allowOnly: false,
    passWithNoTests: false,
    benchmark: { include: ['bench/**/*.bench.ts'] },
  },
});
