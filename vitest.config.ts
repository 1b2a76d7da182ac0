import { defineConfig } from 'vitest/config';

// Three groups, one after the other (sequence.groupOrder), so that nothing runs beside a test that measures latency.
// unit: pure files, no server, no child process, no real-time measurement (fake clocks, golden files, parsers).
// They share their workers' module cache (isolate: false), so they must not mock modules or change globals.
const unitFiles = [
  'test/controller/*.test.ts',
  'test/profile/*.test.ts',
  'test/slo/*.test.ts',
  'test/security/redact.test.ts',
  'test/load/record-fold.test.ts',
  'test/load/tally.test.ts',
  'test/load/sse.test.ts',
  'test/load/h1-parser.test.ts',
  'test/load/executor-fake-clock.test.ts',
  'test/report/golden.test.ts',
  'test/report/charts.test.ts',
  'test/report/html.test.ts',
  'test/report/render-svg.test.ts',
  'test/report/environment.test.ts',
  'test/sim/config.test.ts',
  'test/sim/engine.test.ts',
  'test/bench/*.test.ts',
];
// real: real servers, processes and files, but no verdict depends on measured latency (lax generator health, SLOs
// far from both regimes, signals, faults, secrets; a starved event loop far beyond any noise), so two files may
// share the cores.
const realFiles = [
  'test/reliability/*.test.ts',
  'test/security/secrets.test.ts',
  'test/e2e/health.test.ts',
  'test/cli/relaunch.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: unitFiles,
          isolate: false,
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'real', include: realFiles, fileParallelism: true, maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: {
          name: 'load',
          include: ['test/**/*.test.ts'],
          exclude: [...unitFiles, ...realFiles],
          // One file at a time: load tests measure latency on a 2-core machine, and a second test file
          // (Chromium, another simulator) on the other core would make the generator-health checks flag them.
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
