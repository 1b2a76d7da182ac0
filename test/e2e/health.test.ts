// A starved load generator must yield INVALID stages that are never taken as the knee. The hook really blocks this
// process's event loop during chosen stages, as an overloaded client would: the executor's event-loop delay
// measurement must see it. The decisions on top (one re-run, then generator_limit below the starved level; a stage
// starved once re-run and the search going on to the true knee) run on a fake clock in
// test/controller/search-decisions.test.ts.
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../src/profile/load.ts';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { simProfile, tempDir, writeProfile } from '../helpers.ts';

function starver(stagesToStarve: Set<number>) {
  let timer: NodeJS.Timeout | null = null;
  return (index: number) => {
    if (timer) clearInterval(timer);
    timer = null;
    if (!stagesToStarve.has(index)) return;
    timer = setInterval(() => {
      const until = performance.now() + 150;
      while (performance.now() < until) {
        // Busy: the event loop is blocked for 150 ms out of every 170 ms.
      }
    }, 20);
    timer.unref();
  };
}

describe('load-generator health', () => {
  it('a stage starved twice is INVALID, never the knee: the run stops with generator_limit', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({
        slots: 8,
        concurrency: '[2, 4]',
        slo: ['p90(ttft) < 500ms'],
        warmup: '300ms',
        duration: '1s',
        tokens: 10,
      }),
    );
    const { profile } = await loadProfile(file, { env: {} });
    // The first level and its re-run (stage indexes 0 and 1) are starved.
    const hook = starver(new Set([0, 1]));
    const result = await runCapacitySearch({ profile, env: {}, outDir: dir, stageHook: hook });
    hook(-1);
    const stages = result.summary.stages;
    expect(stages.map((s) => [s.concurrency, s.kind, s.verdict])).toEqual([
      [2, 'ramp', 'INVALID'],
      [2, 'confirm', 'INVALID'],
    ]);
    for (const s of stages) expect(s.health.problems.join(' ')).toMatch(/event-loop delay p99 .* ms > 30 ms/);
    expect(result.capacity.stopReason).toBe('generator_limit');
    expect(result.capacity.concurrency).toBeNull();
    expect(result.capacity.stopDetail).toMatch(/load generator could not hold 2/);
  });
});
