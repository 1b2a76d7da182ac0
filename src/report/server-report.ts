// Pure: the server's side in the report, from summary.json alone: the knee sentence, a chart of the server's
// queue, batch and KV cache per stage, and a line of each stage's details. Nothing when nothing was scraped.
import { markers, seriesPanel, top, WIDTH, type ReportChart } from './charts.ts';
import { fmtCount } from './knee-explanation.ts';
import type { StageJson, SummaryJson } from './summary.ts';

type Esc = (value: unknown) => string;

const num = (x: number) => String(Math.round(x * 1000) / 1000);
const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

/** True when some stage has the server's metrics (old summaries have no such key). */
export function hasServerMetrics(s: SummaryJson): boolean {
  return s.stages.some((st) => (st.server_metrics ?? null) !== null);
}

/** The knee sentence as a callout; empty when there is nothing to explain. */
export function kneeExplanationHtml(s: SummaryJson, esc: Esc): string {
  const k = s.knee_explanation ?? null;
  if (k === null) return '';
  const source = s.server_metrics_source ?? null;
  const from = source
    ? ` <span class="small">(server metrics: <code>${esc(source.url)}</code>, ${esc(source.engine)} names)</span>`
    : '';
  return `<div class="callout info" id="knee-explanation" data-cause="${esc(k.cause)}"><strong>Why the knee is here:</strong> ${esc(k.sentence)}${from}</div>`;
}

/** One line of a stage's details: the server's gauges, and the quota its 429s announced. */
export function serverStageDetail(st: StageJson, esc: Esc): string[] {
  const bits: string[] = [];
  const m = st.server_metrics ?? null;
  if (m) {
    const gauge = (label: string, mean: number | null, max: number | null, f: (x: number) => string) =>
      mean === null ? [] : [`${label} ${f(mean)} (max ${f(max ?? mean)})`];
    const parts = [
      ...gauge('running', m.num_requests_running, m.num_requests_running_max, fmtCount),
      ...gauge('waiting', m.num_requests_waiting, m.num_requests_waiting_max, fmtCount),
      ...gauge('KV cache', m.kv_cache_usage_perc, m.kv_cache_usage_perc_max, pct),
      ...(m.prefix_cache_hit_rate === null ? [] : [`prefix-cache hits ${pct(m.prefix_cache_hit_rate)}`]),
    ];
    bits.push(`server (mean of ${m.samples} scrape${m.samples === 1 ? '' : 's'}): ${esc(parts.join(', '))}`);
  }
  const r = st.rate_limit ?? null;
  if (r && r.with_headers > 0) {
    const quota = [
      r.remaining_requests_zero > 0 ? `remaining requests 0 on ${r.remaining_requests_zero}` : '',
      r.remaining_tokens_zero > 0 ? `remaining tokens 0 on ${r.remaining_tokens_zero}` : '',
      r.limit_requests === null ? '' : `limit ${r.limit_requests} requests`,
      r.limit_tokens === null ? '' : `limit ${r.limit_tokens} tokens`,
    ].filter(Boolean);
    bits.push(
      `quota headers on ${r.with_headers} of ${r.http_429} HTTP 429: ${esc(quota.join(', ') || 'none used up')}`,
    );
  }
  return bits;
}

/** Requests running and waiting in the server per stage, and its KV-cache usage; null without server metrics. */
export function serverMetricsChart(s: SummaryJson): ReportChart | null {
  if (!hasServerMetrics(s)) return null;
  const m = markers(s, false);
  const get = (k: 'num_requests_running' | 'num_requests_waiting' | 'kv_cache_usage_perc_max') => (x: StageJson) =>
    x.server_metrics?.[k] ?? null;
  const counts = seriesPanel({
    s,
    series: [
      { name: 'Running (mean)', color: '#4c78a8', get: get('num_requests_running'), fmt: num },
      { name: 'Waiting in queue (mean)', color: '#e45756', get: get('num_requests_waiting'), fmt: num },
    ],
    yTitle: 'Requests in the server',
    log: false,
    thresholds: [],
    markers: m,
    width: WIDTH,
    seriesLegend: 'Server gauge',
  });
  const hasKv = s.stages.some((x) => (x.server_metrics?.kv_cache_usage_perc_max ?? null) !== null);
  const kv = seriesPanel({
    s,
    series: [{ name: 'KV-cache usage (max)', color: '#9c6ade', get: get('kv_cache_usage_perc_max'), fmt: pct }],
    yTitle: 'KV-cache usage (max)',
    log: false,
    yFixed: { domain: [0, 1], format: '.0%' },
    thresholds: [],
    markers: m,
    width: WIDTH,
    seriesLegend: null,
  });
  return {
    id: 'server-metrics',
    title: "The server's queue and batch versus concurrency",
    caption:
      "From the server's own /metrics, scraped every second during each measurement window: requests in its running batch and in its waiting queue (means), and its KV-cache usage (maximum). Requests that wait while the batch is full explain a knee by queueing; a KV cache near 100 % by memory.",
    spec: top({ resolve: { scale: { stroke: 'independent' } }, vconcat: hasKv ? [counts, kv] : [counts] }),
  };
}
