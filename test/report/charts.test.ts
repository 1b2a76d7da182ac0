// Pure pieces of the chart specs (the full specs are covered by golden.test.ts).
import { describe, expect, it } from 'vitest';
import {
  errorBars,
  errorClassColor,
  errorThresholds,
  latencySeries,
  latencyThresholds,
  markers,
  reportCharts,
} from '../../src/report/charts.ts';
import type { SummaryJson } from '../../src/report/summary.ts';
import type { SloRule } from '../../src/slo/types.ts';
import { fixtureSummary, syntheticSummary } from './helpers.ts';

function withRules(rules: SloRule[]): SummaryJson {
  const s = structuredClone(fixtureSummary());
  s.profile.slo = rules;
  return s;
}

describe('chart data', () => {
  it('marks capacity, first FAIL and efficiency knee, merging markers at the same concurrency', () => {
    const s = structuredClone(fixtureSummary());
    s.capacity = { ...s.capacity, concurrency: 4, bracket: [4, 5] };
    s.efficiency_knee.concurrency = 4;
    expect(markers(s, true).map((m) => [m.concurrency, m.label])).toEqual([
      [4, 'capacity 4 · efficiency knee'],
      [5, 'first FAIL 5'],
    ]);
    expect(markers(s, false).map((m) => m.label)).toEqual(['capacity 4', 'first FAIL 5']);
    s.capacity = { ...s.capacity, concurrency: null, bracket: null };
    expect(markers(s, false)).toEqual([]);
  });

  it('adds the statistic of a latency SLO rule as its own series and draws its threshold', () => {
    const s = withRules([
      { kind: 'latency', text: 'p95(ttft) < 200ms', stat: 'p95', metric: 'ttft', op: '<', thresholdMs: 200 },
    ]);
    expect(
      latencySeries(s, 'ttft', 'TTFT', [
        ['p50', '#1'],
        ['p99', '#2'],
      ]).map((x) => x.name),
    ).toEqual(['P50 TTFT', 'P95 TTFT (SLO)', 'P99 TTFT']);
    expect(latencySeries(s, 'e2e', 'E2E', [['p50', '#1']]).map((x) => x.name)).toEqual(['P50 E2E']);
    expect(latencyThresholds(s, 'ttft')).toEqual([{ value: 200, label: 'SLO p95(ttft) < 200ms' }]);
  });

  it('turns rate rules into error-rate ceilings', () => {
    const s = withRules([
      {
        kind: 'rate',
        text: 'success_rate >= 99%',
        metric: 'success_rate',
        errorClass: null,
        op: '>=',
        threshold: 0.99,
      },
      {
        kind: 'rate',
        text: 'error_rate(http_429) < 5%',
        metric: 'error_rate',
        errorClass: 'http_429',
        op: '<',
        threshold: 0.05,
      },
    ]);
    expect(errorThresholds(s)).toEqual([
      { value: 0.01, label: 'SLO success_rate >= 99% (errors ≤ 1.0%)' },
      { value: 0.05, label: 'SLO error_rate(http_429) < 5%' },
    ]);
  });

  it('pools error counts of all stages at a concurrency', () => {
    const s = fixtureSummary();
    const at5 = s.stages.filter((x) => x.concurrency === 5);
    const requests = at5.reduce((a, x) => a + x.requests, 0);
    const http5xx = at5.reduce((a, x) => a + (x.errors.http_5xx ?? 0), 0);
    expect(errorBars(s).find((b) => b.concurrency === 5 && b.error_class === 'http_5xx')).toMatchObject({
      count: http5xx,
      requests,
      rate: http5xx / requests,
    });
  });

  it('gives each error class one fixed colour, never the verdict green or red', () => {
    expect(errorClassColor('http_5xx')).toBe(errorClassColor('http_5xx'));
    expect(new Set(['http_429', 'http_5xx', 'timeout_first_token', 'stream_truncated'].map(errorClassColor)).size).toBe(
      4,
    );
    expect(['#2e9e48', '#d62728']).not.toContain(errorClassColor('http_5xx'));
  });

  it('plots every stage of a 30-stage run', () => {
    const s = syntheticSummary(30);
    const ttft = reportCharts(s)[1]!.spec as unknown as { layer: { data?: { values: { stage: number }[] } }[] };
    const points = ttft.layer.flatMap((l) => l.data?.values ?? []).filter((v) => 'stage' in v);
    expect(new Set(points.map((p) => p.stage)).size).toBe(30);
  });
});
