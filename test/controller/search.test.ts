// A whole capacity search on a fake clock: the real controller, fold, judge and in-process executor, with a
// transport that models a server of N batch slots on the fake clock. Every decision of the search (ramp,
// extension of an undecided stage, confirmation, bisection, breaker, budget stop) runs in milliseconds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { fakeProfileYaml as profileYaml, searchOnFakeClock as search, steps } from '../fake-search.ts';

describe('a whole capacity search on a fake clock', () => {
  it('ramps, confirms the first FAIL, bisects, and finds capacity = slots', async () => {
    const { result } = await search(profileYaml({ concurrency: '{start: 4, step: 4, max: 32}' }), {
      slots: 13,
      serviceMs: 1000,
      ttftMs: 50,
    });
    expect(steps(result)).toEqual([
      '4:ramp:PASS',
      '8:ramp:PASS',
      '12:ramp:PASS',
      '16:ramp:FAIL',
      '16:confirm:FAIL',
      '14:bisect:FAIL',
      '14:confirm:FAIL',
      '13:bisect:PASS',
    ]);
    expect(result.capacity).toMatchObject({ concurrency: 13, stopReason: 'knee_found', bracket: [13, 14] });
  });

  it('extends an undecided stage, pools its windows, then judges on the point estimate', async () => {
    const { result } = await search(
      profileYaml({ concurrency: '{start: 2, step: 2, max: 2}', stage: '{requests: 20, duration: 60s}' }),
      { slots: 8, serviceMs: 200, ttftMs: 50 },
    );
    const [stage] = result.summary.stages;
    expect(result.summary.stages).toHaveLength(1);
    expect(stage!.verdict).toBe('PASS');
    expect(stage!.low_confidence).toBe(true);
    expect(stage!.requests).toBe(60);
    expect(stage!.reasons.join('\n')).toContain('extended 2 times: 60 requests pooled over 3 windows');
    const lines = readFileSync(join(result.runDir, 'stages.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0].windows.map((w: { index: number }) => w.index)).toEqual([0, 1, 2]);
    expect(result.capacity.stopReason).toBe('max_reached');
  });

  it('stops on the error-rate breaker and keeps the capacity below it', async () => {
    const { result } = await search(
      profileYaml({ concurrency: '{start: 4, step: 4, max: 16}', extra: 'stop: {max_error_rate: 10%}' }),
      { slots: 32, serviceMs: 500, ttftMs: 50, failAbove: 6 },
    );
    expect(steps(result)).toEqual(['4:ramp:PASS', '8:ramp:FAIL']);
    expect(result.summary.stages[1]!.reasons.join('\n')).toContain('stopped early by the error-rate breaker');
    expect(result.capacity).toMatchObject({ concurrency: 4, stopReason: 'error_rate_breaker', bracket: [4, 8] });
  });

  it('stops at a run-wide request budget, the cut stage shown but not deciding', async () => {
    const { result } = await search(
      profileYaml({ concurrency: '{start: 4, step: 4, max: 32}', extra: 'limits: {max_requests: 300}' }),
      { slots: 13, serviceMs: 1000, ttftMs: 50 },
    );
    // Stage 4 is extended twice (every TTFT equal: a p99 from 80 samples is undecided), so 240 requests.
    expect(result.summary.stages.map((s) => [s.concurrency, s.requests])).toEqual([
      [4, 240],
      [8, 20],
    ]);
    expect(result.capacity).toMatchObject({ concurrency: 4, stopReason: 'limit_requests' });
    const last = result.summary.stages[result.summary.stages.length - 1]!;
    expect(last.reasons.join('\n')).toContain('a run-wide safety limit was reached');
    const requests = readFileSync(join(result.runDir, 'requests.jsonl'), 'utf8').trim().split('\n');
    expect(requests.length).toBeGreaterThanOrEqual(300);
  });

  it('writes files from which `find-capacity report` rebuilds the same summary', async () => {
    const { result } = await search(profileYaml({ concurrency: '{start: 4, step: 4, max: 32}' }), {
      slots: 13,
      serviceMs: 1000,
      ttftMs: 50,
    });
    const rebuilt = rebuildSummary(result.runDir).summary;
    expect(rebuilt.stages).toEqual(result.summary.stages);
    expect(rebuilt.capacity).toEqual(result.summary.capacity);
  });
});
