// The per-stage fold of the server's samples and of the 429s' quota headers: which samples count, means and maxima.
import { describe, expect, it } from 'vitest';
import {
  samplesInWindows,
  stageRateLimit,
  stageServerMetrics,
  type FoldSample,
} from '../../src/controller/server-fold.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import type { StageWindow } from '../../src/model/summary.ts';

const sample = (stage: number, t: number, values: FoldSample['values']): FoldSample => ({
  stage,
  t,
  engine: 'vllm',
  values,
});

const W: StageWindow[] = [
  { index: 3, concurrency: 8, startMs: 1000, endMs: 3000 },
  { index: 4, concurrency: 8, startMs: 5000, endMs: 6000 },
];

describe('stageServerMetrics', () => {
  it('takes the samples inside each window of the attempt that ran it, not warm-up, drain or other stages', () => {
    const samples = [
      sample(3, 500, { num_requests_waiting: 9 }), // warm-up
      sample(3, 1000, { num_requests_running: 8, num_requests_waiting: 0, kv_cache_usage_perc: 0.1 }),
      sample(3, 2000, { num_requests_running: 8, num_requests_waiting: 1, kv_cache_usage_perc: 0.3 }),
      sample(3, 3000, { num_requests_waiting: 9 }), // the window is [start, end)
      sample(2, 1500, { num_requests_waiting: 9 }), // another stage at the same time cannot happen, but would not count
      sample(4, 5500, { num_requests_running: 7, num_requests_waiting: 2 }),
    ];
    expect(samplesInWindows(W, samples).map((s) => s.t)).toEqual([1000, 2000, 5500]);
    expect(stageServerMetrics(W, samples)).toEqual({
      samples: 3,
      engine: 'vllm',
      num_requests_running: 7.667,
      num_requests_running_max: 8,
      num_requests_waiting: 1,
      num_requests_waiting_max: 2,
      kv_cache_usage_perc: 0.2,
      kv_cache_usage_perc_max: 0.3,
      prefix_cache_hit_rate: null,
    });
  });

  it('null without samples in the windows; null gauges the server does not expose', () => {
    expect(stageServerMetrics(W, [])).toBeNull();
    expect(stageServerMetrics(W, [sample(3, 100, { num_requests_waiting: 1 })])).toBeNull();
    expect(stageServerMetrics(W, [sample(3, 1500, { num_requests_waiting: 1 })])).toMatchObject({
      num_requests_running: null,
      kv_cache_usage_perc_max: null,
      num_requests_waiting: 1,
    });
  });

  it('prefix-cache hit rate: Δhits / Δqueries inside each window, else the server-computed rate', () => {
    const counters = [
      sample(3, 1000, { prefix_cache_hits_total: 100, prefix_cache_queries_total: 1000 }),
      sample(3, 2900, { prefix_cache_hits_total: 400, prefix_cache_queries_total: 2000 }),
      sample(4, 5100, { prefix_cache_hits_total: 400, prefix_cache_queries_total: 2000 }),
      sample(4, 5900, { prefix_cache_hits_total: 500, prefix_cache_queries_total: 3000 }),
    ];
    // (300 + 100) / (1000 + 1000)
    expect(stageServerMetrics(W, counters)?.prefix_cache_hit_rate).toBe(0.2);
    const own = [sample(3, 1000, { prefix_cache_hit_rate: 0.5 }), sample(3, 2000, { prefix_cache_hit_rate: 0.7 })];
    expect(stageServerMetrics(W, own)?.prefix_cache_hit_rate).toBe(0.6);
  });
});

describe('stageRateLimit', () => {
  const rec = (o: Partial<RequestRecord>): RequestRecord =>
    ({ phase: 'window', errorClass: 'http_429', retryAfterS: null, ...o }) as RequestRecord;

  it('counts the window 429s and the quotas they announced', () => {
    const got = stageRateLimit([
      rec({ rateLimit: { limitRequests: 60, remainingRequests: 0, resetRequestsS: 1 }, retryAfterS: 1 }),
      rec({ rateLimit: { limitTokens: 1000, remainingTokens: 0, resetTokensS: 6 }, retryAfterS: 2 }),
      rec({}),
      rec({ phase: 'warmup', rateLimit: { remainingRequests: 0 } }),
      rec({ errorClass: null }),
    ]);
    expect(got).toEqual({
      http_429: 3,
      with_headers: 2,
      remaining_requests_zero: 1,
      remaining_tokens_zero: 1,
      limit_requests: 60,
      limit_tokens: 1000,
      reset_requests_s: 1,
      reset_tokens_s: 6,
      retry_after_s_max: 2,
    });
  });

  it('null without a 429 in the window', () => {
    expect(stageRateLimit([rec({ errorClass: 'http_5xx' }), rec({ phase: 'warmup' })])).toBeNull();
  });
});
