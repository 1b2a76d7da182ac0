import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Load tests each start a simulator; running files two at a time keeps timings sane on 2 cores.
    maxWorkers: 2,
  },
});
