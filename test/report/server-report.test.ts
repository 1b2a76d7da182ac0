// The server's side of the report, from summary.json alone: the chart renders without warnings, appears only with
// server metrics, and everything from the server (its URL, the sentence) is escaped.
import { describe, expect, it } from 'vitest';
import type { StageServerMetrics } from '../../src/model/server-metrics.ts';
import { renderReportHtml } from '../../src/report/html.ts';
import { renderSvg, type CompileWarning } from '../../src/report/render-svg.ts';
import { serverMetricsChart } from '../../src/report/server-report.ts';
import type { SummaryJson } from '../../src/report/summary.ts';
import { fixtureSummary } from './helpers.ts';

/** The recorded fixture run as if its server had been scraped: waiting grows above its capacity. */
function withServerMetrics(): SummaryJson {
  const s = fixtureSummary();
  const cap = s.capacity.concurrency!;
  const metrics = (c: number): StageServerMetrics => ({
    samples: 3,
    engine: 'vllm',
    num_requests_running: Math.min(c, cap),
    num_requests_running_max: Math.min(c, cap),
    num_requests_waiting: Math.max(0, c - cap),
    num_requests_waiting_max: Math.max(0, c - cap),
    kv_cache_usage_perc: 0.1,
    kv_cache_usage_perc_max: 0.2,
    prefix_cache_hit_rate: null,
  });
  return {
    ...s,
    knee_explanation: {
      cause: 'batch_full',
      sentence: 'From 5, requests wait <b>in</b> the queue: the batch is full.',
      below: cap,
      above: cap + 1,
    },
    server_metrics_source: { url: 'http://127.0.0.1:1/metrics?x=<script>', engine: 'vllm', auth: false },
    stages: s.stages.map((st) => ({ ...st, server_metrics: metrics(st.concurrency) })),
  };
}

describe('the server metrics in the report', () => {
  it('the chart: running and waiting per stage, KV cache as a share, compiled without warnings', () => {
    const s = withServerMetrics();
    const chart = serverMetricsChart(s)!;
    expect(chart.id).toBe('server-metrics');
    const warnings: CompileWarning[] = [];
    const svg = renderSvg(chart.spec, warnings);
    expect(warnings.filter((w) => w.level === 'warn')).toEqual([]);
    expect(svg).toContain('Waiting in queue (mean)');
    expect(svg).toContain('KV-cache usage (max)');
    expect(svg).toContain('100%');
  });

  it('appears with server metrics only; the callout and the URL are escaped', () => {
    const html = renderReportHtml(withServerMetrics());
    expect(html).toContain('data-chart="server-metrics"');
    expect(html).toContain('id="knee-explanation" data-cause="batch_full"');
    expect(html).toContain('requests wait &lt;b&gt;in&lt;/b&gt; the queue');
    expect(html).toContain('<code>http://127.0.0.1:1/metrics?x=&lt;script&gt;</code>');
    expect(html).toMatch(
      /server \(mean of 3 scrapes\): running \d+ \(max \d+\), waiting \d+ \(max \d+\), KV cache 10 % \(max 20 %\)/,
    );

    const plain = renderReportHtml(fixtureSummary());
    expect(plain).not.toContain('data-chart="server-metrics"');
    expect(plain).not.toContain('id="knee-explanation"');
    expect(serverMetricsChart(fixtureSummary())).toBeNull();
  });
});
