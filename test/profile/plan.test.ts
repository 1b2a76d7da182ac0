import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/errors.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { describePlan, planLevels, searchBoundMs } from '../../src/profile/plan.ts';
import type { ConcurrencyPlan } from '../../src/profile/types.ts';

describe('planLevels', () => {
  const cases: [string, ConcurrencyPlan, number[]][] = [
    ['step hitting max exactly', { kind: 'step', start: 1, step: 4, max: 13 }, [1, 5, 9, 13]],
    ['step ends with max when it overshoots', { kind: 'step', start: 1, step: 4, max: 15 }, [1, 5, 9, 13, 15]],
    ['step with start = max', { kind: 'step', start: 8, step: 4, max: 8 }, [8]],
    ['step of one', { kind: 'step', start: 3, step: 1, max: 6 }, [3, 4, 5, 6]],
    ['factor 2', { kind: 'factor', start: 1, factor: 2, max: 16 }, [1, 2, 4, 8, 16]],
    ['factor 2 ends with max', { kind: 'factor', start: 1, factor: 2, max: 20 }, [1, 2, 4, 8, 16, 20]],
    ['factor rounds up', { kind: 'factor', start: 3, factor: 1.5, max: 20 }, [3, 5, 8, 12, 18, 20]],
    ['factor close to 1 still grows', { kind: 'factor', start: 1, factor: 1.01, max: 4 }, [1, 2, 3, 4]],
    ['list as given', { kind: 'list', levels: [1, 2, 4, 8, 16] }, [1, 2, 4, 8, 16]],
  ];
  it.each(cases)('%s', (_, plan, levels) => {
    expect(planLevels(plan)).toEqual(levels);
  });
});

describe('describePlan', () => {
  it('shows stages, time and request bounds and the safety limits', async () => {
    const { profile } = await loadProfile('profiles/example-openai.yaml', { env: { OPENAI_API_KEY: 'x' } });
    const text = describePlan(profile);
    expect(text).toContain('Ramp: 7 stages from 1 to 64, ×2 per stage: 1, 2, 4, 8, 16, 32, 64');
    expect(text).toContain('Time: at most 7 × (10s + 1m + 2m1s) = 22m17s for the coarse ramp');
    expect(text).toContain('Requests: at most 7 × 600 = 4200 measured requests');
    expect(text).toContain('Safety limits: max_duration 45m, max_requests 20000, max_output_tokens 5000000');
    expect(text).not.toContain('undefined');
  });

  it('duration-only stages: requests bounded by duration; long ramps are capped by the limits', async () => {
    const text = `target: {simulator: {preset: demo}}
request: {messages: [{role: user, content: hi}]}
ramp:
  concurrency: {start: 1, step: 1, max: 100}
  stage: {duration: 1m}
slo: ["p99(ttft) < 1s"]
`;
    const { profile } = await loadProfile('p.yaml', { text, env: {} });
    const plan = describePlan(profile);
    expect(plan).toContain('Ramp: 100 stages from 1 to 100 in steps of 1: 1, 2, 3, 4, 5, 6, ..., 98, 99, 100');
    expect(plan).toContain('= 10h10m for the coarse ramp (capped by limits.max_duration 1h)');
    expect(plan).toContain('Requests: bounded by duration');
    expect(plan).toContain('Target: built-in simulator, preset demo; model sim-llm');
  });

  it('says why the drain is longer than ramp.drain, and warns when a default the user never set makes the bound', async () => {
    const text = `target: {simulator: {preset: demo}}
request: {messages: [{role: user, content: hi}]}
ramp: {concurrency: [1, 2], warmup: 1s, stage: {duration: 3s}, drain: 1s}
slo: ["p99(ttft) < 1s"]
`;
    const { profile, warnings } = await loadProfile('p.yaml', { text, env: {} });
    const plan = describePlan(profile);
    expect(plan).toContain(
      'drain at most 5m1s (ramp.drain 1s raised to request.timeouts.total 5m + 1s: every request is followed to its end or its own timeout)',
    );
    expect(plan).toContain('Time: at most 2 × (1s + 3s + 5m1s) = 10m10s for the coarse ramp');
    expect(warnings.map(formatProblem)).toEqual([
      'p.yaml:3:71 ramp.drain: each stage may wait up to 5m1s for its last requests, more than its warm-up and window: request.timeouts.total is not set, so its default (5m) + 1s raises ramp.drain (1s) (no request is cut before its own timeout); set request.timeouts.total to the longest a request may take',
    ]);
    // Once the total timeout is the user's own choice, the plan still says why, and nothing is left to warn about.
    const chosen = text.replace('request: {', 'request: {timeouts: {total: 20s}, ');
    const own = await loadProfile('p.yaml', { text: chosen, env: {} });
    expect(describePlan(own.profile)).toContain(
      'drain at most 21s (ramp.drain 1s raised to request.timeouts.total 20s',
    );
    expect(own.warnings).toEqual([]);
  });

  it('bounds the whole search: every level and probe confirmed and extended, capped by limits.max_duration', async () => {
    const text = `target: {simulator: {preset: demo}}
request: {messages: [{role: user, content: hi}], timeouts: {total: 4s}}
ramp: {concurrency: [2, 4, 8], warmup: 1s, stage: {duration: 3s}, drain: 1s}
slo: ["p99(ttft) < 1s"]
verdict: {max_extensions: 1}
limits: {max_duration: 1h}
`;
    const { profile } = await loadProfile('p.yaml', { text, env: {} });
    // (3 levels + log2(4) = 2 probes) × 3 runs × 2 windows × (1 s + 3 s + 5 s).
    expect(searchBoundMs(profile)).toBe(5 * 3 * 2 * 9000);
    expect(describePlan(profile)).toContain('Whole search: at most 4m30s (every level and bisection probe');
    const capped = await loadProfile('p.yaml', { text: text.replace('max_duration: 1h', 'max_duration: 2m'), env: {} });
    expect(searchBoundMs(capped.profile)).toBe(120_000);
    expect(describePlan(capped.profile)).toContain('Whole search: at most 2m (limits.max_duration)');
  });
});
