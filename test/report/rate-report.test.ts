// A rate run's report, terminal table and charts: the offered rate on the x axis, offered versus achieved, the
// answer and the SLA table in requests/s, goodput beside QPS; a concurrency run keeps its words.
import { describe, expect, it } from 'vitest';
import { errorBars, markers, rateChart, reportCharts, xAxisOf } from '../../src/report/charts.ts';
import { renderReportHtml, slaColumns } from '../../src/report/html.ts';
import type { SummaryJson } from '../../src/report/summary.ts';
import { headline, stageTable } from '../../src/report/terminal.ts';
import { fixtureSummary } from './helpers.ts';

/** The recorded run relabelled as a rate run: level c becomes an offered rate of 2.5 × c req/s. */
function rateSummary(): SummaryJson {
  const s = structuredClone(fixtureSummary());
  s.profile.ramp = { ...s.profile.ramp, concurrency: null, rate: { kind: 'list', levels: [5, 7.5, 10, 12.5, 15] } };
  for (const st of s.stages) {
    st.offered_rate = st.concurrency * 2.5;
    st.achieved_rate = Math.min(st.qps ?? 0, 9);
    st.goodput = (st.achieved_rate ?? 0) * 0.9;
    st.goodput_ratio = 0.9;
    st.dropped = 0;
    st.concurrency = 0;
  }
  const cap = s.capacity.concurrency!;
  s.capacity = {
    ...s.capacity,
    concurrency: null,
    rate: cap * 2.5,
    bracket: s.capacity.bracket ? [s.capacity.bracket[0] * 2.5, s.capacity.bracket[1] * 2.5] : null,
  };
  s.capacity.at_capacity = { ...s.capacity.at_capacity!, achieved_rate: 8.8, goodput: 8.1, goodput_ratio: 0.97 };
  s.efficiency_knee = { ...s.efficiency_knee, concurrency: null, rate: 10 };
  return s;
}

describe('a rate run in the report', () => {
  const s = rateSummary();
  const cap = s.capacity.rate!;

  it('plots every chart against the offered rate and opens with offered versus achieved', () => {
    const charts = reportCharts(s);
    expect(charts.map((c) => c.id)).toEqual(['rate', 'throughput', 'ttft', 'latency', 'errors']);
    expect(charts.map((c) => c.title)).toEqual([
      'Offered versus achieved rate',
      'Throughput versus offered rate',
      'Time to first token (TTFT) versus offered rate',
      'End-to-end latency and time per output token',
      'Errors versus offered rate',
    ]);
    const spec = JSON.stringify(rateChart(s).spec);
    expect(spec).toContain('"title":"Offered rate (requests/s, open loop)"');
    expect(spec).toContain('"field":"offered_rate"');
    expect(spec).not.toContain('"field":"concurrency"');
    expect(spec).toContain('Achieved (successful completions/s)');
    expect(spec).toContain('Goodput (within every limit)');
    expect(xAxisOf(s).of(s.stages[0]!)).toBe(s.stages[0]!.offered_rate);
    expect(markers(s, false).map((m) => m.label)).toEqual([
      `capacity ${cap} req/s`,
      `first FAIL ${s.capacity.bracket![1]} req/s`,
    ]);
    expect(errorBars(s).every((b) => b.offered_rate !== undefined && b.concurrency === undefined)).toBe(true);
    expect(errorBars(s)[0]!.tip).toMatch(/^Offered rate [\d.]+ req\/s \(all stages\)/);
  });

  it('answers in requests/s: the headline, the knee cards and the SLA table', () => {
    expect(headline(s)).toMatch(
      new RegExp(
        `^Capacity: ${cap} requests/s offered \\(8\\.80 achieved, goodput 8\\.10/s\\) with P99 TTFT .+ from the scheduled send time\\.`,
      ),
    );
    const { columns } = slaColumns(s);
    expect(columns.map((c) => [c.title, c.concurrency])).toEqual([
      [`At capacity (${cap} req/s offered)`, cap],
      [`At 80% headroom (${Math.round(cap * 0.8 * 1000) / 1000} req/s offered)`, Math.round(cap * 0.8 * 1000) / 1000],
    ]);
    const html = renderReportHtml(s);
    expect(html).toContain(`data-capacity="${cap}"`);
    expect(html).toContain(`<h3>SLO knee (capacity): ${cap} req/s</h3>`);
    expect(html).toContain('Offered rate, requests/s (measured at)');
    expect(html).toContain('Goodput (requests/s within every limit)');
    expect(html).toContain('Dropped arrivals (in-flight cap)');
    expect(html).toContain('id="open-loop"');
    expect(html).not.toContain('id="closed-loop"');
    expect(html).toContain('x = the offered rate of each stage (requests/s)');
    expect(html).toContain('<th rowspan="2" title="offered rate, requests/s (open loop)">Rate</th>');
  });

  it('shows the rate and goodput columns in the terminal table', () => {
    const [head, , first] = stageTable(s.stages).split('\n');
    expect(head).toMatch(/^#\s+rate\s+kind\s+verdict\s+reqs\s+ok%\s+qps\s+goodput\s+tok\/s/);
    expect(first).toContain(` ${s.stages[0]!.offered_rate} `);
  });
});

describe('a concurrency run keeps its words and gains goodput', () => {
  const s = fixtureSummary();
  it('concurrency on the x axis, no rate chart, goodput in the tables', () => {
    expect(reportCharts(s).map((c) => c.id)).toEqual(['throughput', 'ttft', 'latency', 'errors']);
    expect(stageTable(s.stages).split('\n')[0]).toMatch(
      /^#\s+conc\s+kind\s+verdict\s+reqs\s+ok%\s+qps\s+goodput\s+tok\/s/,
    );
    const html = renderReportHtml(s);
    expect(html).toContain('id="closed-loop"');
    expect(html).toContain('Goodput (requests/s within every limit)');
    expect(headline(s)).toMatch(/^Capacity: \d+ concurrent requests/);
  });
});
