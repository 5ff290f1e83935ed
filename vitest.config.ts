import { defineConfig } from 'vitest/config';

// One worker in one forked process: the CPU Vulkan driver already uses both cores, and each test file
// opens its own device. Timeouts are generous because lavapipe runs kernels at 1 to 10 GFLOP/s.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Node's platform for src/gpu/ (the CLI's entry chooses it the same way).
    setupFiles: ['test/setup-host.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
