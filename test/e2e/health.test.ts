// A starved load generator must yield INVALID stages that are never taken as the knee.
// The hook blocks this process's event loop during chosen stages, as an overloaded client would.
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
  it('a stage starved twice is INVALID, never the knee: the run stops below it with generator_limit', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({ slots: 8, concurrency: '[2, 4, 6]', slo: ['p90(ttft) < 500ms'] }),
    );
    const { profile } = await loadProfile(file, { env: {} });
    // Stage indexes 0 (c=2) pass; 1 and its re-run 2 (c=4) are starved.
    const hook = starver(new Set([1, 2]));
    const result = await runCapacitySearch({ profile, env: {}, outDir: dir, stageHook: hook });
    hook(-1);
    const stages = result.summary.stages;
    expect(stages.map((s) => [s.concurrency, s.verdict])).toEqual([
      [2, 'PASS'],
      [4, 'INVALID'],
      [4, 'INVALID'],
    ]);
    expect(stages[1]!.health.problems.join(' ')).toMatch(/event-loop delay p99 .* ms > 30 ms/);
    expect(result.capacity.stopReason).toBe('generator_limit');
    expect(result.capacity.concurrency).toBe(2);
    expect(result.capacity.stopDetail).toMatch(/load generator could not hold 4/);
  });

  it('a stage starved once is re-run, and the search goes on to the true knee', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({ slots: 4, concurrency: '[2, 4, 6]', extra: 'verdict: {max_extensions: 0, bisect: false}' }),
    );
    const { profile } = await loadProfile(file, { env: {} });
    const hook = starver(new Set([1]));
    const result = await runCapacitySearch({ profile, env: {}, outDir: dir, stageHook: hook });
    hook(-1);
    const verdicts = result.summary.stages.map((s) => [s.concurrency, s.verdict]);
    expect(verdicts.slice(0, 3)).toEqual([
      [2, 'PASS'],
      [4, 'INVALID'],
      [4, 'PASS'],
    ]);
    expect(result.capacity.concurrency).toBe(4);
    expect(result.capacity.stopReason).toBe('knee_found');
  });
});
