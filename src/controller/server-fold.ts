// Pure: a stage's evidence from the server's side, for summary.json: its /metrics samples inside the measurement
// windows (means and maxima) and the quota headers of its HTTP 429s. Same code for a live run and a rebuild.
import type { RequestRecord } from '../model/record.ts';
import type { ServerMetricsSample, StageRateLimit, StageServerMetrics } from '../model/server-metrics.ts';
import type { StageWindow } from '../model/summary.ts';

export type FoldSample = Pick<ServerMetricsSample, 'stage' | 't' | 'engine' | 'values'>;
type Gauge = 'num_requests_running' | 'num_requests_waiting' | 'kv_cache_usage_perc';

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The samples taken inside a window [startMs, endMs) of the attempt that ran it. */
export function samplesInWindows(windows: readonly StageWindow[], samples: readonly FoldSample[]): FoldSample[] {
  return samples.filter((s) => windows.some((w) => s.stage === w.index && s.t >= w.startMs && s.t < w.endMs));
}

function gauge(samples: readonly FoldSample[], key: Gauge): { mean: number | null; max: number | null } {
  const xs = samples.flatMap((s) => (s.values[key] === undefined ? [] : [s.values[key]]));
  if (xs.length === 0) return { mean: null, max: null };
  return { mean: r3(xs.reduce((a, b) => a + b, 0) / xs.length), max: r3(Math.max(...xs)) };
}

/** Δhits / Δqueries within each window (counters since the server started), or the server's own rate. */
function prefixHitRate(windows: readonly StageWindow[], samples: readonly FoldSample[]): number | null {
  let hits = 0;
  let queries = 0;
  for (const w of windows) {
    const xs = samples.filter(
      (s) =>
        s.stage === w.index &&
        s.values.prefix_cache_hits_total !== undefined &&
        s.values.prefix_cache_queries_total !== undefined,
    );
    if (xs.length < 2) continue;
    const first = xs.reduce((a, b) => (b.t < a.t ? b : a));
    const last = xs.reduce((a, b) => (b.t > a.t ? b : a));
    hits += last.values.prefix_cache_hits_total! - first.values.prefix_cache_hits_total!;
    queries += last.values.prefix_cache_queries_total! - first.values.prefix_cache_queries_total!;
  }
  if (queries > 0) return r3(hits / queries);
  const own = samples.flatMap((s) =>
    s.values.prefix_cache_hit_rate === undefined ? [] : [s.values.prefix_cache_hit_rate],
  );
  return own.length > 0 ? r3(own.reduce((a, b) => a + b, 0) / own.length) : null;
}

/** Means and maxima of the server's gauges over a stage's windows; null when no sample fell inside them. */
export function stageServerMetrics(
  windows: readonly StageWindow[],
  samples: readonly FoldSample[],
): StageServerMetrics | null {
  const inside = samplesInWindows(windows, samples);
  if (inside.length === 0) return null;
  const running = gauge(inside, 'num_requests_running');
  const waiting = gauge(inside, 'num_requests_waiting');
  const kv = gauge(inside, 'kv_cache_usage_perc');
  return {
    samples: inside.length,
    engine: inside[0]!.engine,
    num_requests_running: running.mean,
    num_requests_running_max: running.max,
    num_requests_waiting: waiting.mean,
    num_requests_waiting_max: waiting.max,
    kv_cache_usage_perc: kv.mean,
    kv_cache_usage_perc_max: kv.max,
    prefix_cache_hit_rate: prefixHitRate(windows, inside),
  };
}

const maxOf = (xs: (number | undefined | null)[]): number | null => {
  const ys = xs.filter((x): x is number => typeof x === 'number');
  return ys.length > 0 ? Math.max(...ys) : null;
};

/** The quota headers of the stage's HTTP 429s (requests started in its windows); null without a 429. */
export function stageRateLimit(records: readonly RequestRecord[]): StageRateLimit | null {
  const limited = records.filter((r) => r.phase === 'window' && r.errorClass === 'http_429');
  if (limited.length === 0) return null;
  const quotas = limited.flatMap((r) => (r.rateLimit ? [r.rateLimit] : []));
  return {
    http_429: limited.length,
    with_headers: quotas.length,
    remaining_requests_zero: quotas.filter((q) => q.remainingRequests === 0).length,
    remaining_tokens_zero: quotas.filter((q) => q.remainingTokens === 0).length,
    limit_requests: maxOf(quotas.map((q) => q.limitRequests)),
    limit_tokens: maxOf(quotas.map((q) => q.limitTokens)),
    reset_requests_s: maxOf(quotas.map((q) => q.resetRequestsS)),
    reset_tokens_s: maxOf(quotas.map((q) => q.resetTokensS)),
    retry_after_s_max: maxOf(limited.map((r) => r.retryAfterS)),
  };
}
