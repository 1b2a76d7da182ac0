// compare on recorded runs: the judgment of a change on intervals (table), comparability, and the fixture run
// against copies of itself, edited the way another build or another profile would change its files.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRunDirs } from '../../src/controller/compare.ts';
import { changeOf, judgeChange, type Direction } from '../../src/controller/compare-judge.ts';
import type { CompareOutcome, Estimate } from '../../src/model/compare.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import type { Profile } from '../../src/profile/types.ts';
import { compareText } from '../../src/report/compare-text.ts';
import { parseRule } from '../../src/slo/parse.ts';
import { FIXTURE_RUN } from '../report/helpers.ts';
import { tempDir } from '../helpers.ts';

const est = (lo: number, hi: number, value = (lo + hi) / 2): Estimate => ({ value, interval: [lo, hi] });

describe('judgeChange', () => {
  const cases: [string, Direction, Estimate, Estimate, number, number, CompareOutcome][] = [
    // name, direction, A, B, allowed, tolerance, outcome
    ['capacity [16,17] vs [12,13]: below by more than 5%', 'higher', est(16, 17), est(12, 13), 0.05, 0, 'regression'],
    ['capacity [16,17] vs [16,17]: same', 'higher', est(16, 17), est(16, 17), 0.05, 0, 'no_significant_change'],
    [
      'capacity [16,17] vs [15,15]: below, within 10%',
      'higher',
      est(16, 17),
      est(15, 15),
      0.1,
      0,
      'worse_within_tolerance',
    ],
    [
      'capacity [16,∞) vs [12,13]: A unbounded above still bounds below',
      'higher',
      est(16, Infinity, 16),
      est(12, 13),
      0.05,
      0,
      'regression',
    ],
    ['capacity [16,17] vs [20,∞): better', 'higher', est(16, 17), est(20, Infinity, 20), 0.05, 0, 'improvement'],
    ['QPS overlapping intervals', 'higher', est(12, 16), est(11, 15), 0.05, 0, 'no_significant_change'],
    ['latency: B above A by far', 'lower', est(28, 34), est(300, 500), 0.05, 30, 'regression'],
    [
      'latency: B above A by less than the timing tolerance',
      'lower',
      est(28, 34),
      est(40, 50),
      0.05,
      30,
      'worse_within_tolerance',
    ],
    ['latency: B above A beyond the tolerance', 'lower', est(28, 34), est(65, 80), 0.05, 30, 'regression'],
    [
      'latency: relative allowance larger than the tolerance',
      'lower',
      est(900, 1000),
      est(1040, 1100),
      0.05,
      30,
      'worse_within_tolerance',
    ],
    [
      'latency: A unbounded above (too few samples)',
      'lower',
      est(890, Infinity, 893),
      est(5000, 6000),
      0.05,
      30,
      'no_significant_change',
    ],
    ['latency: B better', 'lower', est(300, 500), est(28, 34), 0.05, 30, 'improvement'],
    ['error rate: B 10 points above', 'lower_points', est(0, 0.03), est(0.1, 0.2), 0.05, 0, 'regression'],
    ['error rate: B 3 points above', 'lower_points', est(0, 0.03), est(0.04, 0.07), 0.05, 0, 'worse_within_tolerance'],
  ];
  it.each(cases)('%s', (_name, direction, a, b, allowed, tolerance, outcome) => {
    expect(judgeChange(direction, a, b, allowed, tolerance)).toBe(outcome);
  });

  it('is no significant change without an interval', () => {
    expect(judgeChange('lower', { value: 1, interval: null }, est(100, 200), 0.05)).toBe('no_significant_change');
  });

  it.each([
    ['higher', 16, 12, -0.25],
    ['lower', 30, 45, 0.5],
    ['lower_points', 0.01, 0.04, 0.03],
    ['higher', 0, 4, null],
    ['higher', null, 4, null],
  ] as const)('changeOf(%s, %s, %s) = %s', (direction, a, b, want) => {
    const got = changeOf(direction, a, b);
    if (want === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(want, 12);
  });
});

/** A copy of the fixture run with its profile.json (and optionally its records) edited. */
function editedCopy(edit: (p: Profile) => void, records?: (r: RequestRecord) => RequestRecord): string {
  const dir = join(tempDir('fc-compare-unit-'), 'run');
  cpSync(FIXTURE_RUN, dir, { recursive: true });
  const profile = JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8')) as Profile;
  edit(profile);
  writeFileSync(join(dir, 'profile.json'), JSON.stringify(profile));
  if (records) {
    const file = join(dir, 'requests.jsonl');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(file, lines.map((l) => JSON.stringify(records(JSON.parse(l) as RequestRecord))).join('\n') + '\n');
  }
  return dir;
}

describe('compareRunDirs on the recorded fixture run', () => {
  it('finds no regression against an identical copy, at every common level up to the capacity', () => {
    const c = compareRunDirs(
      FIXTURE_RUN,
      editedCopy(() => {}),
      0.05,
    );
    expect(c.verdict).toBe('no_regression');
    expect(c.differences).toEqual([]);
    expect(c.metrics.every((m) => m.outcome === 'no_significant_change')).toBe(true);
    // Capacity 4, bracket [4, 5]: the knee lies in [4, 4]; levels 2 and 4 are compared.
    expect(c.metrics[0]).toMatchObject({ metric: 'capacity', a: { value: 4, interval: [4, 4] } });
    expect([...new Set(c.metrics.slice(1).map((m) => m.concurrency))]).toEqual([2, 4]);
    expect(c.ttftStat).toBe('p99');
  });

  it('lists every differing SLO rule, the model, the payload and the load model: not comparable', () => {
    const b = editedCopy((p) => {
      p.slo = [parseRule('p99(ttft) < 50ms'), parseRule('success_rate >= 90%')];
      p.target.model = 'other-model';
      p.request.maxTokens = 32;
      p.request.payloads = [{ messages: [{ role: 'user', content: 'Say goodbye.' }] }];
      (p.ramp as unknown as Record<string, unknown>)['rate'] = { start: 1, step: 1, max: 4 };
    });
    const c = compareRunDirs(FIXTURE_RUN, b, 0.05);
    expect(c.verdict).toBe('not_comparable');
    expect(c.metrics).toEqual([]);
    expect(c.differences).toEqual([
      { what: 'SLO rule', a: 'p99(e2e) < 1s', b: '(absent)' },
      { what: 'SLO rule', a: 'success_rate >= 80%', b: '(absent)' },
      { what: 'SLO rule', a: '(absent)', b: 'success_rate >= 90%' },
      { what: 'target.model', a: 'sim-llm', b: 'other-model' },
      { what: 'request payload 1 (messages)', a: 'user: Say hello.', b: 'user: Say goodbye.' },
      { what: 'request.max_tokens', a: '16', b: '32' },
      { what: 'load model', a: 'closed loop (concurrency ramp)', b: 'open loop (rate ramp, poisson arrivals)' },
    ]);
    const text = compareText(c, null);
    for (const d of c.differences) expect(text).toContain(`${d.what}: A ${d.a} | B ${d.b}`);
  });

  it('only notes differences that do not change what is measured (target, stage length)', () => {
    const b = editedCopy((p) => {
      p.target.simulator = { preset: 'tiny', overrides: { slots: 8 } };
      p.ramp.stage.durationMs = 3000;
    });
    const c = compareRunDirs(FIXTURE_RUN, b, 0.05);
    expect(c.verdict).toBe('no_regression');
    expect(c.notes.map((n) => n.what)).toEqual(['target', 'stage']);
    expect(c.notes[0]!.b).toBe('built-in simulator, preset tiny {"slots":8}');
  });

  it('calls a fallen capacity a regression, but not a p99 that ~100 samples cannot bound from above', () => {
    const slower = (r: RequestRecord): RequestRecord =>
      r.firstContentAt === null
        ? r
        : { ...r, firstContentAt: r.firstContentAt + 40, lastContentAt: r.lastContentAt! + 40, end: r.end + 40 };
    // 40 ms more TTFT on every request, and a FAIL needs no confirmation: p99(ttft) < 50ms fails at 2.
    const b = editedCopy((p) => (p.verdict.confirmFailures = false), slower);
    const c = compareRunDirs(FIXTURE_RUN, b, 0.05);
    expect(c.verdict).toBe('regression');
    expect(c.b.capacity).toMatchObject({ concurrency: null, stopReason: 'failed_at_first_stage' });
    expect(c.metrics[0]).toMatchObject({ metric: 'capacity', outcome: 'regression', b: { interval: [0, 1] } });
    expect(c.metrics[0]!.detail).toBe(
      'capacity: 4 → n/a, worse beyond the allowed 5.0% (A knee in [4, 4], B knee in [0, 1])',
    );
    // The p99 of ~100 samples has no upper bound at 95%: however much slower B is, the intervals cannot say so.
    const ttft = c.metrics.filter((m) => m.metric === 'ttft');
    expect(ttft.map((m) => m.a.interval![1])).toEqual([Infinity, Infinity]);
    expect(ttft.map((m) => m.outcome)).toEqual(['no_significant_change', 'no_significant_change']);
    expect(c.notes.map((n) => n.what)).toEqual(['verdict.confirm_failures']);
  });
});
