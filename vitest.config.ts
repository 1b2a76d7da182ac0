import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run one at a time: load tests measure latency on a 2-core machine, and a second test file
    // (Chromium, another simulator) on the other core would make the generator-health checks flag them.
    fileParallelism: false,
  },
});
