import { describe, expect, it } from 'vitest';
import { decide, autoResolution } from '../../src/controller/decide.ts';
import type { StageResult, Verdict } from '../../src/model/verdict.ts';
import type { StageSummary } from '../../src/model/summary.ts';

const dist = { count: 0, avg: null, p50: null, p90: null, p95: null, p99: null, max: null };

function stage(
  concurrency: number,
  verdict: Verdict,
  kind: StageResult['kind'] = 'ramp',
  extra: Partial<StageSummary> = {},
  aborted = false,
): StageResult {
  const summary: StageSummary = {
    index: 0,
    concurrency,
    windowMs: 1000,
    requests: 100,
    ok: verdict === 'PASS' ? 100 : 90,
    failed: verdict === 'PASS' ? 0 : 10,
    successRate: 1,
    errorRate: 0,
    errors: {},
    completedInWindow: 100,
    okCompletedInWindow: 100,
    qps: concurrency,
    completionsPerS: concurrency,
    outputTokensPerS: 0,
    outputTokensEstimated: false,
    outputTokens: 0,
    ttftMs: dist,
    ttfbMs: dist,
    e2eMs: dist,
    tpotMs: dist,
    itlMs: dist,
    achievedConcurrency: concurrency,
    littleLaw: { predicted: null, ratio: null },
    retryAfterS: [],
    errorSamples: {},
    ttfoMs: dist,
    ttftFirstTurnMs: dist,
    ttftLaterTurnsMs: dist,
    promptTokensAvg: null,
    cachedTokensAvg: null,
    reasoningTokensAvg: null,
    outputTokensShort: 0,
    ...extra,
  };
  return {
    summary,
    verdict,
    lowConfidence: false,
    reasons: [],
    rules: [],
    kind,
    aborted,
    partial: false,
    health: { eventLoopDelayP99Ms: 0, cpuPercent: 0, achievedRatio: 1, ttftOverhead: null, problems: [] },
  };
}

const profile = (o: { confirm?: boolean; bisect?: boolean; resolution?: number | null; onBreach?: boolean } = {}) => ({
  stop: { onBreach: o.onBreach ?? true, maxErrorRate: 0.5 },
  verdict: {
    confidence: 0.95,
    confirmFailures: o.confirm ?? true,
    maxExtensions: 2,
    bisect: o.bisect ?? true,
    bisectResolution: o.resolution ?? null,
  },
});

type Step = [number, Verdict, StageResult['kind']?];
const cases: {
  name: string;
  levels: number[];
  history: Step[];
  opts?: Parameters<typeof profile>[0];
  expect: unknown;
}[] = [
  {
    name: 'starts at the first level',
    levels: [1, 2, 4],
    history: [],
    expect: { kind: 'run', concurrency: 1, why: 'ramp' },
  },
  {
    name: 'ramps after a PASS',
    levels: [1, 2, 4],
    history: [[1, 'PASS']],
    expect: { kind: 'run', concurrency: 2, why: 'ramp' },
  },
  {
    name: 'confirms a first FAIL',
    levels: [8, 16, 24],
    history: [
      [8, 'PASS'],
      [16, 'FAIL'],
    ],
    expect: { kind: 'run', concurrency: 16, why: 'confirm' },
  },
  {
    name: 'a FAIL that passes on confirmation does not end the ramp',
    levels: [8, 16, 24],
    history: [
      [8, 'PASS'],
      [16, 'FAIL'],
      [16, 'PASS', 'confirm'],
    ],
    expect: { kind: 'run', concurrency: 24, why: 'ramp' },
  },
  {
    name: 'bisects a confirmed bracket',
    levels: [8, 16, 24],
    history: [
      [8, 'PASS'],
      [16, 'FAIL'],
      [16, 'FAIL', 'confirm'],
    ],
    expect: { kind: 'run', concurrency: 12, why: 'bisect' },
  },
  {
    name: 'a knee between 40 and 48 is refined to 44',
    levels: [8, 16, 24, 32, 40, 48],
    history: [
      [8, 'PASS'],
      [16, 'PASS'],
      [24, 'PASS'],
      [32, 'PASS'],
      [40, 'PASS'],
      [48, 'FAIL'],
      [48, 'FAIL', 'confirm'],
      [44, 'PASS', 'bisect'],
      [46, 'FAIL', 'bisect'],
      [46, 'FAIL', 'confirm'],
      [45, 'FAIL', 'bisect'],
      [45, 'FAIL', 'confirm'],
    ],
    expect: { kind: 'stop', capacity: { concurrency: 44, stopReason: 'knee_found', bracket: [44, 45] } },
  },
  {
    name: 'without confirmation a FAIL ends the ramp at once (no bisect)',
    levels: [1, 2, 4],
    history: [
      [1, 'PASS'],
      [2, 'FAIL'],
    ],
    opts: { confirm: false, bisect: false },
    expect: { kind: 'stop', capacity: { concurrency: 1, stopReason: 'knee_found', bracket: [1, 2] } },
  },
  {
    name: 'a coarse resolution stops bisecting early',
    levels: [100, 200],
    history: [
      [100, 'PASS'],
      [200, 'FAIL'],
      [200, 'FAIL', 'confirm'],
      [150, 'PASS', 'bisect'],
      [175, 'PASS', 'bisect'],
      [187, 'FAIL', 'bisect'],
      [187, 'FAIL', 'confirm'],
      [181, 'PASS', 'bisect'],
      [184, 'FAIL', 'bisect'],
      [184, 'FAIL', 'confirm'],
    ],
    // 100 wide: resolution 5, so [181, 184] is narrow enough.
    expect: { kind: 'stop', capacity: { concurrency: 181, stopReason: 'knee_found', bracket: [181, 184] } },
  },
  {
    name: 'failing at the first level',
    levels: [4, 8],
    history: [
      [4, 'FAIL'],
      [4, 'FAIL', 'confirm'],
    ],
    expect: { kind: 'stop', capacity: { concurrency: null, stopReason: 'failed_at_first_stage', bracket: null } },
  },
  {
    name: 'no knee up to max',
    levels: [1, 2],
    history: [
      [1, 'PASS'],
      [2, 'PASS'],
    ],
    expect: { kind: 'stop', capacity: { concurrency: 2, stopReason: 'max_reached', bracket: null } },
  },
  {
    name: 'an INVALID stage is never the knee: the run stops below it',
    levels: [10, 20, 30],
    history: [
      [10, 'PASS'],
      [20, 'INVALID'],
      [20, 'INVALID', 'confirm'],
    ],
    expect: { kind: 'stop', capacity: { concurrency: 10, stopReason: 'generator_limit', bracket: null } },
  },
  {
    name: 'the bisection resolution comes from the coarse bracket (150 wide: 8), not the shrinking one',
    levels: [50, 200],
    history: [
      [50, 'PASS'],
      [200, 'FAIL'],
      [200, 'FAIL', 'confirm'],
      [125, 'FAIL', 'bisect'],
      [125, 'FAIL', 'confirm'],
      [87, 'FAIL', 'bisect'],
      [87, 'FAIL', 'confirm'],
      [68, 'FAIL', 'bisect'],
      [68, 'FAIL', 'confirm'],
      [59, 'PASS', 'bisect'],
    ],
    expect: { kind: 'run', concurrency: 63, why: 'bisect' },
  },
  {
    name: '... and stops once the bracket is within it',
    levels: [50, 200],
    history: [
      [50, 'PASS'],
      [200, 'FAIL'],
      [200, 'FAIL', 'confirm'],
      [125, 'FAIL', 'bisect'],
      [125, 'FAIL', 'confirm'],
      [87, 'FAIL', 'bisect'],
      [87, 'FAIL', 'confirm'],
      [68, 'FAIL', 'bisect'],
      [68, 'FAIL', 'confirm'],
      [59, 'PASS', 'bisect'],
      [63, 'PASS', 'bisect'],
    ],
    expect: { kind: 'stop', capacity: { concurrency: 63, stopReason: 'knee_found', bracket: [63, 68] } },
  },
  {
    name: 'a FAIL after an INVALID at the same level still needs its confirmation',
    levels: [8, 16, 32],
    history: [
      [8, 'PASS'],
      [16, 'INVALID'],
      [16, 'FAIL', 'confirm'],
    ],
    expect: { kind: 'run', concurrency: 16, why: 'confirm' },
  },
  {
    name: 'an INVALID stage is re-run once',
    levels: [10, 20, 30],
    history: [
      [10, 'PASS'],
      [20, 'INVALID'],
    ],
    expect: { kind: 'run', concurrency: 20, why: 'confirm' },
  },
  {
    name: 'with on_breach false the ramp goes on past a FAIL',
    levels: [1, 2, 4],
    history: [
      [1, 'PASS'],
      [2, 'FAIL'],
      [2, 'FAIL', 'confirm'],
    ],
    opts: { onBreach: false, bisect: false },
    expect: { kind: 'run', concurrency: 4, why: 'ramp' },
  },
];

describe('decide', () => {
  for (const c of cases) {
    it(c.name, () => {
      const history = c.history.map(([conc, v, k]) => stage(conc, v, k ?? 'ramp'));
      expect(decide({ profile: profile(c.opts), levels: c.levels, history })).toMatchObject(c.expect as object);
    });
  }

  it('a stage stopped by the error-rate breaker needs no confirmation', () => {
    const history = [stage(4, 'PASS'), stage(8, 'FAIL', 'ramp', {}, true)];
    expect(decide({ profile: profile(), levels: [4, 8, 12], history })).toMatchObject({
      kind: 'stop',
      capacity: { concurrency: 4, stopReason: 'error_rate_breaker' },
    });
  });

  it('names the rate limit when 429s dominate the failing stage', () => {
    const f = (k: StageResult['kind']) => stage(8, 'FAIL', k, { failed: 10, errors: { http_429: 9, http_5xx: 1 } });
    const history = [stage(4, 'PASS'), f('ramp'), f('confirm')];
    expect(decide({ profile: profile({ bisect: false }), levels: [4, 8], history })).toMatchObject({
      kind: 'stop',
      capacity: { concurrency: 4, stopReason: 'rate_limited' },
    });
  });

  it('auto resolution: 1 up to a 64-wide bracket, about 5 % beyond', () => {
    expect([autoResolution(8), autoResolution(64), autoResolution(128), autoResolution(1000)]).toEqual([1, 1, 6, 50]);
  });
});
