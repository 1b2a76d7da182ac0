// Decisions of a whole search that real-time tests used to show against the simulator, on a fake clock: a factor
// ramp bisected down to the knee, a starved load generator (INVALID stages: one re-run, then generator_limit), and
// the run-wide duration and output-token budgets. The real parts stay real: the accuracy of the knee against the
// simulator (test/e2e/knee.test.ts, run.test.ts), a real blocked event loop making a stage INVALID
// (test/e2e/health.test.ts), the exit codes (test/cli/exit-codes.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../src/model/record.ts';
import { fakeProfileYaml, searchOnFakeClock, steps, type HealthOf } from '../fake-search.ts';

/** Stages in `starved` report a blocked event loop (150 ms p99), the others a healthy one. */
const starvedAt =
  (...starved: number[]): HealthOf =>
  (index) => ({ eventLoopDelayP99Ms: starved.includes(index) ? 150 : 1, cpuPercent: 10 });

const readRecords = (runDir: string): RequestRecord[] =>
  readFileSync(join(runDir, 'requests.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RequestRecord);

describe('a factor ramp on a fake clock', () => {
  it('doubles until the first confirmed FAIL, bisects the bracket, and finds capacity = slots (7)', async () => {
    const { result } = await searchOnFakeClock(fakeProfileYaml({ concurrency: '{start: 1, factor: 2, max: 64}' }), {
      slots: 7,
      serviceMs: 1000,
      ttftMs: 50,
    });
    const stages = result.summary.stages;
    expect(stages.filter((s) => s.kind === 'ramp').map((s) => s.concurrency)).toEqual([1, 2, 4, 8]);
    expect(steps(result).slice(-4)).toEqual(['8:ramp:FAIL', '8:confirm:FAIL', '6:bisect:PASS', '7:bisect:PASS']);
    expect(result.capacity).toMatchObject({ concurrency: 7, stopReason: 'knee_found', bracket: [7, 8] });
  });
});

describe('a starved load generator on a fake clock', () => {
  it('a stage starved twice is INVALID, never the knee: the run stops below it with generator_limit', async () => {
    const { result } = await searchOnFakeClock(
      fakeProfileYaml({ concurrency: '[2, 4, 6]', slo: 'p90(ttft) < 500ms', extra: 'verdict: {max_extensions: 0}' }),
      { slots: 8, serviceMs: 1000, ttftMs: 50 },
      { healthOf: starvedAt(1, 2) },
    );
    const stages = result.summary.stages;
    expect(stages.map((s) => [s.concurrency, s.kind, s.verdict])).toEqual([
      [2, 'ramp', 'PASS'],
      [4, 'ramp', 'INVALID'],
      [4, 'confirm', 'INVALID'],
    ]);
    expect(stages[1]!.health.problems.join(' ')).toMatch(/event-loop delay p99 150\.0 ms > 30 ms/);
    expect(stages[1]!.reasons[0]).toMatch(/^generator: event-loop delay p99/);
    expect(result.capacity.stopReason).toBe('generator_limit');
    expect(result.capacity.concurrency).toBe(2);
    expect(result.capacity.stopDetail).toMatch(/load generator could not hold 4/);
  });

  it('a stage starved once is re-run, and the search goes on to the true knee', async () => {
    const { result } = await searchOnFakeClock(
      fakeProfileYaml({ concurrency: '[2, 4, 6]', extra: 'verdict: {max_extensions: 0, bisect: false}' }),
      { slots: 4, serviceMs: 1000, ttftMs: 50 },
      { healthOf: starvedAt(1) },
    );
    expect(steps(result)).toEqual(['2:ramp:PASS', '4:ramp:INVALID', '4:confirm:PASS', '6:ramp:FAIL', '6:confirm:FAIL']);
    expect(result.capacity).toMatchObject({ concurrency: 4, stopReason: 'knee_found', bracket: [4, 6] });
  });
});

describe('run-wide budgets on a fake clock', () => {
  const budgeted = (limits: string) =>
    searchOnFakeClock(
      fakeProfileYaml({
        concurrency: '[2, 4, 6, 8]',
        stage: '{duration: 10s}',
        slo: 'p99(ttft) < 2s',
        extra: `verdict: {confirm_failures: false, bisect: false, max_extensions: 0}\nlimits: ${limits}`,
      }),
      { slots: 8, serviceMs: 400, ttftMs: 50, outputTokens: 20 },
    );

  it('max_duration stops the run: no request starts after it, with its own stop reason', async () => {
    const { result, clock } = await budgeted('{max_duration: 20s}');
    expect(result.capacity.stopReason).toBe('limit_duration');
    expect(result.capacity.stopDetail).toMatch(/^the run reached limits\.max_duration \(20 s\)/);
    expect(result.summary.stages.length).toBe(2);
    expect(result.summary.stages[1]!.reasons.join('\n')).toContain('a run-wide safety limit was reached');
    const records = readRecords(result.runDir);
    expect(records.filter((r) => r.stage === 1).length).toBeGreaterThan(0);
    for (const r of records) expect(r.t0).toBeLessThan(20_000);
    // The stage in progress was cut at the limit: its requests ended and the run stopped well before a full stage.
    expect(clock.now()).toBeLessThan(20_000 + 10_000);
  });

  it('max_output_tokens stops the run: no request starts once the budget is spent', async () => {
    const { result } = await budgeted('{max_output_tokens: 3000}');
    expect(result.capacity.stopReason).toBe('limit_output_tokens');
    expect(result.capacity.stopDetail).toMatch(/^the run reached limits\.max_output_tokens \(3000\)/);
    const records = readRecords(result.runDir);
    const tokens = records.reduce((a, r) => a + r.outputTokens, 0);
    expect(tokens).toBeGreaterThanOrEqual(3000);
    // Only the requests in flight when the budget ran out may overshoot it.
    const last = result.summary.stages.at(-1)!;
    expect(tokens).toBeLessThanOrEqual(3000 + last.concurrency * 20);
    expect(last.reasons.join('\n')).toContain('a run-wide safety limit was reached');
  });
});
