// The SLO frontier: one tier recomputed by hand from a recorded run, the tier capacity rule on synthetic
// histories, and the 1× tier agreeing with the run's own capacity.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldRun } from '../../src/controller/fold.ts';
import { sloFrontier, tierCapacity } from '../../src/controller/frontier.ts';
import { readRunDir } from '../../src/controller/run-dir.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import type { StageResult, Verdict } from '../../src/model/verdict.ts';
import { rampLevels } from '../../src/profile/plan.ts';
import type { SummaryJson } from '../../src/report/summary.ts';
import { FIXTURE_RUN } from '../report/helpers.ts';

/** P(X ≤ k) for X ~ Binomial(n, p), k = 0..n, by the pmf recurrence (independent of src/stats). */
function binomialCdfByHand(n: number, p: number): number[] {
  let pmf = (1 - p) ** n;
  let acc = 0;
  const cdf: number[] = [];
  for (let k = 0; k <= n; k++) {
    acc += pmf;
    cdf.push(acc);
    pmf = (pmf * (n - k) * p) / ((k + 1) * (1 - p));
  }
  return cdf;
}

/** p99 (type 7) of a sorted sample and its 95% order-statistic interval, with ±Infinity where unbounded. */
function p99ByHand(sorted: number[]): { value: number; lo: number; hi: number } {
  const n = sorted.length;
  const h = (n - 1) * 0.99;
  const i = Math.floor(h);
  const value = sorted[i]! + (h - i) * ((sorted[i + 1] ?? sorted[i]!) - sorted[i]!);
  const cdf = binomialCdfByHand(n, 0.99);
  let lower = 0;
  for (let l = 1; l <= n && cdf[l - 1]! <= 0.025; l++) lower = l;
  let upper = n + 1;
  for (let u = 1; u <= n; u++)
    if (cdf[u - 1]! >= 0.975) {
      upper = u;
      break;
    }
  return { value, lo: lower >= 1 ? sorted[lower - 1]! : -Infinity, hi: upper <= n ? sorted[upper - 1]! : Infinity };
}

describe('SLA tiers of the recorded fixture run (tiny simulator, knee at 4)', () => {
  const run = readRunDir(FIXTURE_RUN);
  const recorded = JSON.parse(readFileSync(join(FIXTURE_RUN, 'summary.json'), 'utf8')) as SummaryJson;
  const frontier = sloFrontier(run.profile, run.lines, run.records);

  it('recomputes the 0.5× tier of p99(ttft) < 50ms by hand: p99 TTFT and its interval per stage, then the rule', () => {
    const thresholdMs = 25;
    const lastAtLevel = new Map<number, Verdict>();
    const stageLines = run.lines.flatMap((line) => (line.type === 'stage' ? [line] : []));
    for (const [position, line] of stageLines.entries()) {
      const windows = new Set(line.windows.map((w) => w.index));
      const ttfts = run.records
        .filter((r: RequestRecord) => windows.has(r.stage) && r.phase === 'window' && r.ok)
        .map((r) => r.firstContentAt! - r.t0)
        .sort((a, b) => a - b);
      const p99 = p99ByHand(ttfts);
      // The interval decides when it lies on one side; otherwise (no extension left) the point estimate does.
      const ttftPasses = p99.hi < thresholdMs ? true : p99.lo >= thresholdMs ? false : p99.value < thresholdMs;
      // The other rules keep their thresholds: their judgments are the run's own, from its summary.json.
      const stage = recorded.stages.find((s) => s.index === position)!;
      const othersPass = stage.rules.filter((r) => !r.rule.includes('ttft')).every((r) => r.pass === true);
      lastAtLevel.set(line.window.concurrency, ttftPasses && othersPass ? 'PASS' : 'FAIL');
    }
    // Highest level that passes with every lower tested level passing.
    let byHand: number | null = null;
    let firstFail: number | null = null;
    for (const level of [...lastAtLevel.keys()].sort((a, b) => a - b)) {
      if (lastAtLevel.get(level) !== 'PASS') {
        firstFail = level;
        break;
      }
      byHand = level;
    }
    expect({ byHand, firstFail }).toEqual({ byHand: 4, firstFail: 5 });
    const tier = frontier.rules.find((r) => r.rule === 'p99(ttft) < 50ms')!.tiers.find((t) => t.factor === 0.5)!;
    expect(tier.rule).toBe('p99(ttft) < 25ms');
    expect(tier.thresholdMs).toBe(thresholdMs);
    expect(tier.concurrency).toBe(byHand);
    expect(tier.bracket).toEqual([byHand, firstFail]);
    expect(tier.range).toBe('within');
  });

  it('has the default tiers for each latency rule; the 1× tier is the run’s own capacity', () => {
    expect(frontier.factors).toEqual([0.25, 0.5, 1, 2]);
    expect(frontier.rules.map((r) => r.rule)).toEqual(['p99(ttft) < 50ms', 'p99(e2e) < 1s']);
    const { capacity } = foldRun(run.profile, run.lines, run.records, rampLevels(run.profile.ramp));
    for (const r of frontier.rules) {
      const own = r.tiers.find((t) => t.factor === 1)!;
      expect(own.concurrency, r.rule).toBe(capacity.concurrency);
      expect(own.bracket, r.rule).toEqual(capacity.bracket);
    }
  });

  it('places tiers outside the tested range: 0.25× TTFT fails at the lowest level, 2× passes every level', () => {
    const ttft = frontier.rules[0]!.tiers;
    expect(ttft[0]).toMatchObject({ factor: 0.25, concurrency: null, range: 'below', bracket: null });
    expect(ttft[0]!.firstFail?.summary.concurrency).toBe(2);
    expect(ttft[3]).toMatchObject({ factor: 2, concurrency: 6, range: 'above', bracket: null });
  });

  it('is empty when report.tiers is [] or the profile has no latency rule', () => {
    const off = { ...run.profile, report: { ...run.profile.report, tiers: [] } };
    expect(sloFrontier(off, run.lines, run.records)).toEqual({ factors: [], rules: [] });
    const rates = { ...run.profile, slo: run.profile.slo.filter((r) => r.kind !== 'latency') };
    expect(sloFrontier(rates, run.lines, run.records)).toEqual({ factors: [0.25, 0.5, 1, 2], rules: [] });
  });

  it('keeps the generator-health limit of the run: a looser tier does not make an INVALID stage valid', () => {
    // With p99(e2e) < 1s the tightest rule, the event-loop limit is 5% of 1 s = 50 ms; at 2× it would be 100 ms.
    const profile = { ...run.profile, slo: run.profile.slo.filter((r) => r.text !== 'p99(ttft) < 50ms') };
    const lines = run.lines.map((l) =>
      l.type === 'stage' && l.window.concurrency === 4 ? { ...l, eventLoopDelayP99Ms: 70 } : l,
    );
    const e2e = sloFrontier(profile, lines, run.records).rules[0]!;
    expect(e2e.rule).toBe('p99(e2e) < 1s');
    for (const t of e2e.tiers) expect(t, t.rule).toMatchObject({ concurrency: 2, range: 'above', invalidAbove: 4 });
  });
});

function judged(concurrency: number, verdict: Verdict, index = 0): StageResult {
  return { summary: { concurrency, index }, verdict, lowConfidence: false, partial: false } as unknown as StageResult;
}

describe('tierCapacity', () => {
  const cases: [string, [number, Verdict][], ReturnType<typeof tierCapacity>['concurrency'], string, unknown][] = [
    [
      'every level passes: at least the highest',
      [
        [1, 'PASS'],
        [2, 'PASS'],
        [4, 'PASS'],
      ],
      4,
      'above',
      null,
    ],
    [
      'the lowest level fails: below the tested range',
      [
        [1, 'FAIL'],
        [2, 'PASS'],
      ],
      null,
      'below',
      null,
    ],
    [
      'pass, pass, fail: within, bracketed',
      [
        [1, 'PASS'],
        [2, 'PASS'],
        [4, 'FAIL'],
      ],
      2,
      'within',
      [2, 4],
    ],
    [
      'a PASS above the first FAIL does not count',
      [
        [1, 'PASS'],
        [4, 'FAIL'],
        [8, 'PASS'],
      ],
      1,
      'within',
      [1, 4],
    ],
    [
      'a confirmation re-run that passes replaces the FAIL',
      [
        [1, 'PASS'],
        [2, 'FAIL'],
        [2, 'PASS'],
        [4, 'FAIL'],
      ],
      2,
      'within',
      [2, 4],
    ],
    [
      'levels judged out of order (bisection) are sorted',
      [
        [2, 'PASS'],
        [8, 'FAIL'],
        [4, 'PASS'],
        [6, 'FAIL'],
      ],
      4,
      'within',
      [4, 6],
    ],
    [
      'an INVALID level caps the claim: at least the level below',
      [
        [1, 'PASS'],
        [2, 'INVALID'],
        [4, 'PASS'],
      ],
      1,
      'above',
      null,
    ],
  ];
  it.each(cases)('%s', (_name, stages, concurrency, range, bracket) => {
    const t = tierCapacity(stages.map(([c, v], i) => judged(c, v, i)));
    expect(t.concurrency).toBe(concurrency);
    expect(t.range).toBe(range);
    expect(t.bracket).toEqual(bracket);
  });

  it('names the INVALID level and keeps the stage at the capacity', () => {
    const t = tierCapacity([judged(1, 'PASS', 0), judged(2, 'INVALID', 1)]);
    expect(t.invalidAbove).toBe(2);
    expect(t.stage?.summary.index).toBe(0);
  });
});
