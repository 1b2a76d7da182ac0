// Pure: one sentence on why the knee is where it is, from the server's gauges (queue, batch, KV cache) and the
// quota headers of HTTP 429s at the first failing level, against the highest passing one (docs/server-metrics.md).
import type { StageRateLimit, StageServerMetrics } from '../model/server-metrics.ts';
import type { Capacity } from '../model/verdict.ts';

/** What the sentence reads of a stage in summary.json. */
export interface KneeStage {
  concurrency: number;
  verdict: string;
  partial: boolean;
  requests: number;
  failed: number;
  errors: Partial<Record<string, number>>;
  server_metrics?: StageServerMetrics | null;
  rate_limit?: StageRateLimit | null;
}

export type KneeCause = 'quota' | 'rate_limited' | 'memory_bound' | 'batch_full' | 'no_queue' | 'latency';

export interface KneeExplanation {
  cause: KneeCause;
  sentence: string;
  /** The highest passing level (null: none passed) and the first failing one, which the sentence compares. */
  below: number | null;
  above: number;
}

/** KV-cache usage from which a knee is called memory-bound. */
export const KV_FULL = 0.9;

interface Level {
  requests: number;
  failed: number;
  http429: number;
  metrics: StageServerMetrics | null;
  rate: StageRateLimit | null;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Numbers as a person reads them: 16, 2.1, 0.04. */
export function fmtCount(x: number): string {
  if (x !== 0 && Math.abs(x) < 0.1) return x.toFixed(2);
  const r = Math.round(x * 10) / 10;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}

/** The judged stages at one concurrency pooled: confirmations weigh by their samples. */
function level(stages: readonly KneeStage[], c: number): Level {
  const at = stages.filter((s) => s.concurrency === c);
  const withMetrics = at.flatMap((s) => (s.server_metrics ? [s.server_metrics] : []));
  const rates = at.flatMap((s) => (s.rate_limit ? [s.rate_limit] : []));
  return {
    requests: sum(at.map((s) => s.requests)),
    failed: sum(at.map((s) => s.failed)),
    http429: sum(at.map((s) => s.errors['http_429'] ?? 0)),
    metrics: withMetrics.length > 0 ? poolMetrics(withMetrics) : null,
    rate: rates.length > 0 ? poolRates(rates) : null,
  };
}

function poolMetrics(ms: readonly StageServerMetrics[]): StageServerMetrics {
  const n = sum(ms.map((m) => m.samples));
  const mean = (k: 'num_requests_running' | 'num_requests_waiting' | 'kv_cache_usage_perc') => {
    const xs = ms.filter((m) => m[k] !== null);
    return xs.length === 0 ? null : sum(xs.map((m) => m[k]! * m.samples)) / sum(xs.map((m) => m.samples));
  };
  const max = (k: 'num_requests_running_max' | 'num_requests_waiting_max' | 'kv_cache_usage_perc_max') => {
    const xs = ms.flatMap((m) => (m[k] === null ? [] : [m[k]]));
    return xs.length === 0 ? null : Math.max(...xs);
  };
  return {
    samples: n,
    engine: ms[0]!.engine,
    num_requests_running: mean('num_requests_running'),
    num_requests_running_max: max('num_requests_running_max'),
    num_requests_waiting: mean('num_requests_waiting'),
    num_requests_waiting_max: max('num_requests_waiting_max'),
    kv_cache_usage_perc: mean('kv_cache_usage_perc'),
    kv_cache_usage_perc_max: max('kv_cache_usage_perc_max'),
    prefix_cache_hit_rate: ms[0]!.prefix_cache_hit_rate,
  };
}

function poolRates(rs: readonly StageRateLimit[]): StageRateLimit {
  const top = (k: keyof StageRateLimit) => {
    const xs = rs.flatMap((r) => (r[k] === null ? [] : [r[k]]));
    return xs.length === 0 ? null : Math.max(...xs);
  };
  return {
    http_429: sum(rs.map((r) => r.http_429)),
    with_headers: sum(rs.map((r) => r.with_headers)),
    remaining_requests_zero: sum(rs.map((r) => r.remaining_requests_zero)),
    remaining_tokens_zero: sum(rs.map((r) => r.remaining_tokens_zero)),
    limit_requests: top('limit_requests'),
    limit_tokens: top('limit_tokens'),
    reset_requests_s: top('reset_requests_s'),
    reset_tokens_s: top('reset_tokens_s'),
    retry_after_s_max: top('retry_after_s_max'),
  };
}

/** The quota a 429 announced, quoted: "x-ratelimit-remaining-requests 0 (limit 60 requests, reset 1 s)". */
function quotaQuote(r: StageRateLimit): string {
  const parts: string[] = [];
  for (const unit of ['requests', 'tokens'] as const) {
    const zero = unit === 'requests' ? r.remaining_requests_zero : r.remaining_tokens_zero;
    if (zero === 0) continue;
    const limit = unit === 'requests' ? r.limit_requests : r.limit_tokens;
    const reset = unit === 'requests' ? r.reset_requests_s : r.reset_tokens_s;
    const terms = [limit === null ? '' : `limit ${limit} ${unit}`, reset === null ? '' : `reset ${fmtCount(reset)} s`];
    const detail = terms.filter(Boolean).join(', ');
    parts.push(`x-ratelimit-remaining-${unit} 0${detail ? ` (${detail})` : ''}`);
  }
  return parts.join(' and ');
}

function quotaSentence(above: number, l: Level): Pick<KneeExplanation, 'cause' | 'sentence'> {
  const r = l.rate;
  const head = `at ${above}, ${l.http429} of ${l.requests} requests got HTTP 429`;
  if (r && r.remaining_requests_zero + r.remaining_tokens_zero > 0)
    return {
      cause: 'quota',
      sentence: `${head} with ${quotaQuote(r)}: a quota limit of the API, not a latency knee; the capacity is what the quota allows.`,
    };
  const retry = r?.retry_after_s_max == null ? '' : ` (Retry-After up to ${fmtCount(r.retry_after_s_max)} s)`;
  return {
    cause: 'rate_limited',
    sentence: `${head}${retry} without a used-up quota in its headers: the server or a gateway refused requests (a queue or rate limit), not a latency knee.`,
  };
}

/** "at and below 16 no request waits in the server's queue (num_requests_waiting 0); " or "". */
function belowClause(below: number | null, l: Level | null): string {
  const w = l?.metrics?.num_requests_waiting ?? null;
  if (below === null || w === null) return '';
  if (w === 0) return `at and below ${below} no request waits in the server's queue (num_requests_waiting 0); `;
  return `requests already wait at ${below} (mean ${fmtCount(w)}); `;
}

function metricsSentence(below: number | null, above: number, lb: Level | null, m: StageServerMetrics) {
  const waiting = m.num_requests_waiting;
  const running = m.num_requests_running;
  const kvMax = m.kv_cache_usage_perc_max;
  const runs = running === null ? '' : ` while ${fmtCount(running)} run`;
  if (kvMax !== null && kvMax >= KV_FULL) {
    const queue =
      waiting !== null && waiting > 0 ? `; requests wait in the server's queue (mean ${fmtCount(waiting)})` : '';
    return {
      cause: 'memory_bound' as const,
      sentence: `${belowClause(below, lb)}from ${above}, KV cache ${Math.round(kvMax * 100)} %${queue}: memory-bound, the server holds no more tokens.`,
    };
  }
  if (waiting !== null && waiting > 0)
    return {
      cause: 'batch_full' as const,
      sentence: `${belowClause(below, lb)}from ${above}, requests wait in the server's queue (mean ${fmtCount(waiting)})${runs}: the batch is full.`,
    };
  if (waiting === null) return null;
  const kv = kvMax === null ? '' : `, KV cache at most ${Math.round(kvMax * 100)} %`;
  return {
    cause: 'no_queue' as const,
    sentence: `at ${above} no request waits in the server's queue (num_requests_waiting 0${running === null ? '' : `, ${fmtCount(running)} running`}${kv}): the knee is not queueing in the server; its steps slow down as the batch grows, or the time goes outside it (network, proxy, load generator).`,
  };
}

/** The first failing level above the capacity (the bracket's, or the lowest FAIL above it); null: no knee. */
function firstFailAbove(stages: readonly KneeStage[], capacity: Capacity): number | null {
  if (capacity.bracket) return capacity.bracket[1];
  const floor = capacity.concurrency ?? 0;
  const fails = stages.filter((s) => s.verdict === 'FAIL' && s.concurrency > floor).map((s) => s.concurrency);
  return fails.length > 0 ? Math.min(...fails) : null;
}

/** Why the knee is where it is; null when no level failed above the capacity. */
export function explainKnee(stages: readonly KneeStage[], capacity: Capacity): KneeExplanation | null {
  const e = kneeCause(stages, capacity);
  return e && { ...e, sentence: e.sentence.charAt(0).toUpperCase() + e.sentence.slice(1) };
}

function kneeCause(stages: readonly KneeStage[], capacity: Capacity): KneeExplanation | null {
  const judged = stages.filter((s) => !s.partial && s.verdict !== 'INVALID' && s.requests > 0);
  const above = firstFailAbove(judged, capacity);
  if (above === null) return null;
  const below = capacity.concurrency;
  const la = level(judged, above);
  const lb = below === null ? null : level(judged, below);
  const base = { below, above };
  if (la.http429 > 0 && (la.http429 * 2 > la.failed || capacity.stopReason === 'rate_limited'))
    return { ...base, ...quotaSentence(above, la) };
  const fromMetrics = la.metrics ? metricsSentence(below, above, lb, la.metrics) : null;
  if (fromMetrics) return { ...base, ...fromMetrics };
  const n = la.http429;
  const few429 = n > 0 ? ` (${n} HTTP 429${n === 1 ? ' was' : 's were'} a minority of its failures)` : '';
  return {
    ...base,
    cause: 'latency',
    sentence: `at ${above} the SLO failed without a quota or rate limit${few429}: a latency knee; the server's metrics were not scraped, so nothing tells whether requests queued there.`,
  };
}
