// The rate-run and goodput keys of a profile: normalized values, and every mistake reported with its location.
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/errors.ts';
import { validateProfileText } from '../../src/profile/load.ts';
import { describePlan, planRateLevels, rampLevels } from '../../src/profile/plan.ts';

const head = `target:
  simulator: {preset: demo}
request:
  messages: [{role: user, content: hi}]
`;
const tail = `slo:
  - p99(ttft) < 2s
`;

async function check(ramp: string, extra = '') {
  const r = await validateProfileText(`${head}ramp:\n${ramp}\n${tail}${extra}`, 'p.yaml', {});
  return { profile: r.profile, problems: r.problems.map(formatProblem) };
}

describe('ramp.rate', () => {
  it('normalizes a rate run with its defaults: poisson arrivals, burstiness 1, 1000 in flight', async () => {
    const { profile, problems } = await check('  rate: {start: 2.5, factor: 1.5, max: 12}');
    expect(problems).toEqual([]);
    expect(profile!.ramp).toMatchObject({
      concurrency: null,
      rate: { kind: 'factor', start: 2.5, factor: 1.5, max: 12 },
      arrival: 'poisson',
      burstiness: 1,
      maxInFlight: 1000,
    });
    expect(rampLevels(profile!.ramp)).toEqual([2.5, 3.75, 5.625, 8.438, 12]);
    expect(profile!.goodput).toBeUndefined();
    expect(describePlan(profile!)).toContain(
      'Ramp: 5 stages of offered rate from 2.5 to 12 req/s, ×1.5 per stage: 2.5, 3.75, 5.625, 8.438, 12 req/s; poisson arrivals; at most 1000 requests in flight (beyond: dropped)',
    );
  });

  it('takes lists, steps, gamma arrivals and a cap', async () => {
    const { profile, problems } = await check(
      '  rate: [1, 2.5, 4]\n  arrival: gamma\n  burstiness: 0.5\n  max_in_flight: 64',
      'verdict: {resolution: 0.25}\n',
    );
    expect(problems).toEqual([]);
    expect(profile!.ramp).toMatchObject({
      rate: { kind: 'list', levels: [1, 2.5, 4] },
      arrival: 'gamma',
      burstiness: 0.5,
    });
    expect(profile!.ramp.maxInFlight).toBe(64);
    expect(profile!.verdict.bisectResolution).toBe(0.25);
    expect(planRateLevels({ kind: 'step', start: 0.5, step: 0.25, max: 1.4 })).toEqual([0.5, 0.75, 1, 1.25, 1.4]);
    // burstiness alone implies gamma arrivals.
    expect((await check('  rate: [1]\n  burstiness: 4')).profile!.ramp.arrival).toBe('gamma');
  });

  it('excludes ramp.concurrency with a clear, located error', async () => {
    const { profile, problems } = await check('  concurrency: [1, 2]\n  rate: [1, 2]');
    expect(profile).toBeNull();
    expect(problems).toEqual([
      'p.yaml:7:3 ramp.rate: cannot be used together with ramp.concurrency: a run ramps either the concurrency (closed loop) or the offered rate in requests/s (open loop); remove one of them',
    ]);
  });

  it.each([
    [
      '  rate: {start: 0, step: 1, max: 4}',
      'p.yaml:6:17 ramp.rate.start: must be a rate in requests/s greater than 0 and at most 100000, got 0',
    ],
    ['  rate: {start: 2, max: 4}', 'p.yaml:6:3 ramp.rate: needs a way to grow: set step or factor'],
    ['  rate: {step: 1, max: 4}', 'p.yaml:6:3 ramp.rate.start: is required: the first rate to offer, in requests/s'],
    ['  rate: {start: 8, step: 1, max: 4}', 'p.yaml:6:34 ramp.rate.max: must be at least start (8), got 4'],
    ['  rate: {start: 1, factor: 1, max: 4}', 'p.yaml:6:28 ramp.rate.factor: must be between 1.01 and 100, got 1'],
    ['  rate: [2, 1]', 'p.yaml:6:13 ramp.rate[1]: rates must be strictly increasing, got 1 after 2'],
    [
      '  rate: fast',
      'p.yaml:6:9 ramp.rate: must be a mapping {start, step | factor, max} or a list of rates such as [2, 4, 8] (requests/s), got "fast"',
    ],
    [
      '  rate: [1]\n  arrival: poison',
      'p.yaml:7:12 ramp.arrival: must be one of poisson, constant, gamma, got "poison" (did you mean "poisson"?)',
    ],
    [
      '  rate: [1]\n  arrival: poisson\n  burstiness: 2',
      'p.yaml:8:3 ramp.burstiness: is the shape of gamma arrivals: set ramp.arrival: gamma (got poisson)',
    ],
    ['  rate: [1]\n  burstiness: 0', 'p.yaml:7:15 ramp.burstiness: must be between 0.01 and 100, got 0'],
    ['  rate: [1]\n  max_in_flight: 0', 'p.yaml:7:18 ramp.max_in_flight: must be a positive integer, got 0'],
    [
      '  concurrency: [1]\n  arrival: poisson',
      'p.yaml:7:3 ramp.arrival: applies to rate runs only: set ramp.rate (requests/s) instead of ramp.concurrency',
    ],
    [
      '  concurrency: [1]\n  max_in_flight: 10',
      'p.yaml:7:3 ramp.max_in_flight: applies to rate runs only: set ramp.rate (requests/s) instead of ramp.concurrency',
    ],
    [
      '  warmup: 1s',
      'p.yaml:5:1 ramp.concurrency: is required, e.g. {start: 1, step: 4, max: 64} or [1, 2, 4, 8] (or ramp.rate in requests/s for a rate run)',
    ],
  ])('%j → %s', async (ramp, expected) => {
    const { profile, problems } = await check(ramp);
    expect(profile).toBeNull();
    expect(problems).toContain(expected);
  });

  it('a concurrency run keeps whole-number resolutions; a rate run takes req/s', async () => {
    const c = await check('  concurrency: [1, 2]', 'verdict: {resolution: 0.5}\n');
    expect(c.problems).toContain('p.yaml:9:23 verdict.resolution: must be a positive integer or "auto", got 0.5');
    const r = await check('  rate: [1, 2]', 'verdict: {resolution: 0}\n');
    expect(r.problems).toContain('p.yaml:9:23 verdict.resolution: must be between 0.001 and 100000, got 0');
  });
});

describe('goodput', () => {
  it('a TTFT or TPOT limit needs streaming', async () => {
    const text = `${head.replace('content: hi}]', 'content: hi}]\n  stream: false')}ramp: {rate: [1]}\ngoodput: {ttft: 1s, e2e: 5s}\n`;
    const r = await validateProfileText(text, 'p.yaml', {});
    expect(r.problems.map(formatProblem)).toContain(
      'p.yaml:7:11 goodput.ttft: needs streaming, but request.stream is false',
    );
    expect(r.profile).toBeNull();
  });

  it('takes any subset of ttft, tpot and e2e limits', async () => {
    const { profile, problems } = await check('  rate: [1]', 'goodput: {ttft: 1s, tpot: 50ms}\n');
    expect(problems).toEqual([]);
    expect(profile!.goodput).toEqual({ ttftMs: 1000, tpotMs: 50, e2eMs: null });
  });

  it.each([
    ['goodput: {ttft: 1s, itl: 5ms}\n', 'p.yaml:9:21 goodput.itl: unknown key "itl"'],
    ['goodput: {e2e: soon}\n', 'p.yaml:9:16 goodput.e2e: must be a duration'],
    ['goodput: 1s\n', 'p.yaml:9:10 goodput: must be a mapping with keys ttft, tpot, e2e, got "1s"'],
  ])('%j → %s', async (extra, expected) => {
    const { profile, problems } = await check('  rate: [1]', extra);
    expect(profile).toBeNull();
    expect(problems.some((p) => p.includes(expected))).toBe(true);
  });
});
