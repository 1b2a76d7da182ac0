// The one-sentence answer and the terminal's final lines, from summaries of the recorded run edited into the cases
// a first-time user meets: a run stopped mid-stage, a non-streaming run.
import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/report/html.ts';
import type { StageResult } from '../../src/model/verdict.ts';
import { efficiencyKnee, type SummaryJson } from '../../src/report/summary.ts';
import { finalReport, headline, progressLine, searchClock, stageTable } from '../../src/report/terminal.ts';
import { fixtureSummary } from './helpers.ts';

/** The recorded run cut short during the first stage's extension: that stage is partial, nothing completed. */
function cutInFirstStage(stopReason: SummaryJson['capacity']['stop_reason'], detail: string): SummaryJson {
  const s = structuredClone(fixtureSummary());
  s.stages = [{ ...s.stages[0]!, partial: true, stopped_by: 'budget' }];
  s.capacity = {
    ...s.capacity,
    concurrency: null,
    bracket: null,
    at_capacity: null,
    stop_reason: stopReason,
    stop_detail: detail,
  };
  s.profile.limits.maxRequests = 40;
  return s;
}

describe('headline after a stop mid-stage', () => {
  it('a safety limit before any stage completed: says so, never "the SLO was not met"', () => {
    const s = cutInFirstStage('limit_requests', 'the run reached limits.max_requests (40) before any stage completed');
    const text = headline(s);
    expect(text).toBe('No capacity measured: the run reached limits.max_requests (40) before any stage completed.');
    expect(renderReportHtml(s)).toContain('before any stage completed');
    expect(finalReport(s, 'dir')).not.toMatch(/not met/);
  });

  it('an interrupt before any stage completed', () => {
    const s = cutInFirstStage('interrupted', 'interrupted by SIGINT before any stage completed');
    expect(headline(s)).toBe('No capacity measured: the run was interrupted before any stage completed.');
  });

  it('an interrupt after a completed PASS names that PASS as a lower bound, not as the capacity', () => {
    const s = structuredClone(fixtureSummary());
    s.stages = [s.stages[0]!, { ...s.stages[1]!, partial: true, stopped_by: 'interrupted' }];
    s.capacity = { ...s.capacity, concurrency: 2, bracket: null, stop_reason: 'interrupted' };
    expect(headline(s)).toMatch(
      /^Capacity so far: at least 2 concurrent requests \(the last completed PASS\) at [\d.]+ QPS with P99 TTFT [\d.]+ ms; the run was interrupted before the search finished\.$/,
    );
  });

  it('completed stages that all failed, then a limit: "not met at any completed stage", and why it stopped', () => {
    const s = structuredClone(fixtureSummary());
    s.stages = [s.stages[2]!, { ...s.stages[3]!, partial: true }];
    s.capacity = { ...s.capacity, concurrency: null, bracket: null, at_capacity: null, stop_reason: 'limit_duration' };
    expect(headline(s)).toBe(
      'No capacity: the SLO was not met at any completed stage (lowest tested: 6); the run reached limits.max_duration (2m) before the search finished.',
    );
  });

  it('a load generator that could not hold the first level: the endpoint was not judged, so no "not met"', () => {
    const s = structuredClone(fixtureSummary());
    s.stages = [
      { ...s.stages[0]!, verdict: 'INVALID' },
      { ...s.stages[0]!, index: 1, kind: 'confirm', verdict: 'INVALID' },
    ];
    s.capacity = { ...s.capacity, concurrency: null, bracket: null, at_capacity: null, stop_reason: 'generator_limit' };
    expect(headline(s)).toBe(
      'No capacity measured: the load generator could not hold 2 concurrent requests, the lowest level tested, so the endpoint was not judged.',
    );
  });

  it('a search that finished keeps its sentences', () => {
    const s = fixtureSummary();
    expect(headline(s)).toMatch(/^Capacity: 4 concurrent requests at 33\.78 QPS with P99 TTFT 20\.8 ms\. At 5: /);
  });
});

describe('low-confidence stages on the terminal', () => {
  it('say, per stage, how many requests would decide the rule and how long a window that is at its QPS', () => {
    const text = finalReport(fixtureSummary(), 'dir');
    expect(text).toContain('~ = decided on the point estimate: too few samples for the confidence interval to decide.');
    expect(text).toMatch(
      /^ {2}stage 0 \(concurrency 2\): p99\(ttft\) < 50ms needs about \d{3} requests, p99\(e2e\) < 1s about \d{3}; this stage had 91, and at its 18\.89 QPS \d{3} take about \d+s\.$/m,
    );
    expect(text).toMatch(/^ {2}stage 1 \(concurrency 4\): /m);
  });
});

describe('headline of a non-streaming run', () => {
  it('quotes the statistic of its own latency rule (no TTFT is measured), never "TTFT n/a"', () => {
    const s = structuredClone(fixtureSummary());
    s.profile.request.stream = false;
    s.profile.slo = s.profile.slo.filter((r) => r.kind !== 'latency' || r.metric !== 'ttft');
    s.profile.slo[0] = { ...s.profile.slo[0]!, stat: 'p95', text: 'p95(e2e) < 1s' } as (typeof s.profile.slo)[number];
    const nulls = { count: 0, avg: null, p50: null, p90: null, p95: null, p99: null, max: null };
    for (const st of s.stages) st.ttft_ms = { ...nulls };
    if (s.capacity.at_capacity) s.capacity.at_capacity.ttft_ms = { ...nulls };
    const text = headline(s);
    expect(text).toMatch(/^Capacity: 4 concurrent requests at 33\.78 QPS with P95 E2E 125 ms\./);
    expect(text).not.toContain('n/a');
  });

  it('without a latency rule it quotes P99 E2E', () => {
    const s = structuredClone(fixtureSummary());
    s.profile.request.stream = false;
    s.profile.slo = s.profile.slo.filter((r) => r.kind !== 'latency');
    expect(headline(s)).toMatch(/ with P99 E2E 130 ms\./);
  });
});

/** Judged stages reduced to what the efficiency knee reads. */
const levels = (points: [number, number][]) =>
  points.map(
    ([concurrency, qps]) =>
      ({
        verdict: 'PASS',
        partial: false,
        summary: { concurrency, qps, requests: 100, e2eMs: { avg: 1000 } },
      }) as unknown as StageResult,
  );

describe('efficiency knee', () => {
  it('throughput still rising at the highest tested level: not reached within the tested range, never "around 16"', () => {
    // A mock server without contention: QPS grows linearly with concurrency.
    const e = efficiencyKnee(
      levels([
        [4, 3.0],
        [8, 6.1],
        [16, 11.9],
      ]),
      0.9,
    );
    expect(e.concurrency).toBeNull();
    expect(e.explanation).toMatch(
      /^The efficiency knee is not reached within the tested range: throughput was still growing at the highest tested concurrency \(11\.90 QPS at 16, up from 6\.10 at 8\)/,
    );
    expect(e.explanation).not.toMatch(/stops growing/);

    const s = structuredClone(fixtureSummary());
    s.efficiency_knee = { ...s.efficiency_knee, concurrency: null, best_qps: 11.9, explanation: e.explanation };
    expect(finalReport(s, 'dir')).toContain(`Efficiency knee: ${e.explanation}`);
    expect(renderReportHtml(s)).toContain('<h3>Efficiency knee: not reached</h3>');
  });

  it('a plateau below the highest level is the knee', () => {
    const e = efficiencyKnee(
      levels([
        [4, 3.0],
        [8, 11.0],
        [16, 11.9],
      ]),
      0.9,
    );
    expect(e.concurrency).toBe(8);
    expect(e.explanation).toMatch(/^Throughput stops growing with concurrency around 8: /);
  });
});

describe('the stage table', () => {
  it('prints the ok% column in one format', () => {
    const s = structuredClone(fixtureSummary());
    const rates = [1, 0.9917, 0.983, 0.5];
    s.stages = rates.map((r, i) => ({ ...s.stages[0]!, index: i, success_rate: r }));
    const ok = stageTable(s.stages)
      .split('\n')
      .slice(2)
      .map((line) => line.trim().split(/\s+/)[5]);
    expect(ok).toEqual(['100.00%', '99.17%', '98.30%', '50.00%']);
    s.stages = [0.983, 0.5].map((r, i) => ({ ...s.stages[0]!, index: i, success_rate: r }));
    expect(
      stageTable(s.stages)
        .split('\n')
        .slice(2)
        .map((l) => l.trim().split(/\s+/)[5]),
    ).toEqual(['98.3%', '50.0%']);
  });
});

describe('the progress line', () => {
  it('shows the whole search: time elapsed and the remaining upper bound', () => {
    expect(searchClock(72_400, 300_000)).toBe('1m12s elapsed, at most 3m48s left');
    expect(searchClock(400, 300_000)).toBe('0s elapsed, at most 5m left');
    expect(searchClock(310_000, 300_000)).toBe('5m10s elapsed, at most 0s left');
    const progress = {
      stage: 5,
      concurrency: 4,
      elapsedMs: 2500,
      inWindow: true,
      done: 31,
      failed: 1,
      okPerS: 12.5,
      ttftP99Ms: 42,
    };
    expect(progressLine('stage 3 attempt 2', progress, searchClock(72_400, 300_000))).toBe(
      'stage 3 attempt 2 c=4 2.5s measuring done=31 qps=12.50 p99(ttft)=42.0 ms errors=1 | 1m12s elapsed, at most 3m48s left',
    );
  });
});
