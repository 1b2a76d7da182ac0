// The knee sentence: table tests over the causes it tells apart (quota, rate limit, KV cache, full batch, no queue,
// a plain latency knee) and the pooling of a level's stages.
import { describe, expect, it } from 'vitest';
import { explainKnee, fmtCount, type KneeStage } from '../../src/report/knee-explanation.ts';
import type { StageRateLimit, StageServerMetrics } from '../../src/model/server-metrics.ts';
import type { Capacity } from '../../src/model/verdict.ts';

const metrics = (o: Partial<StageServerMetrics>): StageServerMetrics => ({
  samples: 5,
  engine: 'vllm',
  num_requests_running: null,
  num_requests_running_max: null,
  num_requests_waiting: null,
  num_requests_waiting_max: null,
  kv_cache_usage_perc: null,
  kv_cache_usage_perc_max: null,
  prefix_cache_hit_rate: null,
  ...o,
});

const quota = (o: Partial<StageRateLimit>): StageRateLimit => ({
  http_429: 0,
  with_headers: 0,
  remaining_requests_zero: 0,
  remaining_tokens_zero: 0,
  limit_requests: null,
  limit_tokens: null,
  reset_requests_s: null,
  reset_tokens_s: null,
  retry_after_s_max: null,
  ...o,
});

const stage = (concurrency: number, verdict: string, o: Partial<KneeStage> = {}): KneeStage => ({
  concurrency,
  verdict,
  partial: false,
  requests: 100,
  failed: 0,
  errors: {},
  server_metrics: null,
  rate_limit: null,
  ...o,
});

const knee = (pass: number, fail: number, stopReason: Capacity['stopReason'] = 'knee_found'): Capacity => ({
  concurrency: pass,
  stopReason,
  stopDetail: '',
  bracket: [pass, fail],
});

const idle = metrics({ num_requests_running: 16, num_requests_waiting: 0, num_requests_waiting_max: 0 });

describe('explainKnee', () => {
  it.each([
    {
      name: 'full batch: nobody waits at the capacity, requests queue above it',
      stages: [
        stage(8, 'PASS', { server_metrics: metrics({ num_requests_running: 8, num_requests_waiting: 0 }) }),
        stage(16, 'PASS', { server_metrics: idle }),
        stage(18, 'FAIL', {
          server_metrics: metrics({
            num_requests_running: 16,
            num_requests_waiting: 2.1,
            kv_cache_usage_perc_max: 0.4,
          }),
        }),
      ],
      capacity: knee(16, 18),
      cause: 'batch_full',
      sentence:
        "At and below 16 no request waits in the server's queue (num_requests_waiting 0); from 18, requests wait in the server's queue (mean 2.1) while 16 run: the batch is full.",
    },
    {
      name: 'memory-bound: the KV cache is full above the knee',
      stages: [
        stage(16, 'PASS', { server_metrics: idle }),
        stage(18, 'FAIL', {
          server_metrics: metrics({
            num_requests_running: 14,
            num_requests_waiting: 4,
            kv_cache_usage_perc: 0.95,
            kv_cache_usage_perc_max: 0.98,
          }),
        }),
      ],
      capacity: knee(16, 18),
      cause: 'memory_bound',
      sentence:
        "At and below 16 no request waits in the server's queue (num_requests_waiting 0); from 18, KV cache 98 %; requests wait in the server's queue (mean 4): memory-bound, the server holds no more tokens.",
    },
    {
      name: 'no queue: the knee is inside the batch or outside the server',
      stages: [
        stage(16, 'PASS', { server_metrics: idle }),
        stage(24, 'FAIL', {
          server_metrics: metrics({
            num_requests_running: 23.96,
            num_requests_waiting: 0,
            kv_cache_usage_perc_max: 0.12,
          }),
        }),
      ],
      capacity: knee(16, 24),
      cause: 'no_queue',
      sentence:
        "At 24 no request waits in the server's queue (num_requests_waiting 0, 24 running, KV cache at most 12 %): the knee is not queueing in the server; its steps slow down as the batch grows, or the time goes outside it (network, proxy, load generator).",
    },
    {
      name: 'quota: the 429s say the requests quota is used up, and the quota is quoted',
      stages: [
        stage(2, 'PASS'),
        stage(4, 'FAIL', {
          requests: 40,
          failed: 20,
          errors: { http_429: 20 },
          rate_limit: quota({
            http_429: 20,
            with_headers: 20,
            remaining_requests_zero: 20,
            limit_requests: 60,
            reset_requests_s: 1,
          }),
        }),
      ],
      capacity: knee(2, 4, 'rate_limited'),
      cause: 'quota',
      sentence:
        'At 4, 20 of 40 requests got HTTP 429 with x-ratelimit-remaining-requests 0 (limit 60 requests, reset 1 s): a quota limit of the API, not a latency knee; the capacity is what the quota allows.',
    },
    {
      name: 'token quota',
      stages: [
        stage(2, 'PASS'),
        stage(4, 'FAIL', {
          requests: 10,
          failed: 6,
          errors: { http_429: 6 },
          rate_limit: quota({ http_429: 6, with_headers: 6, remaining_tokens_zero: 6, limit_tokens: 150000 }),
        }),
      ],
      capacity: knee(2, 4),
      cause: 'quota',
      sentence:
        'At 4, 6 of 10 requests got HTTP 429 with x-ratelimit-remaining-tokens 0 (limit 150000 tokens): a quota limit of the API, not a latency knee; the capacity is what the quota allows.',
    },
    {
      name: 'rate limited without a used-up quota (a server queue limit)',
      stages: [
        stage(2, 'PASS'),
        stage(4, 'FAIL', {
          requests: 30,
          failed: 12,
          errors: { http_429: 12 },
          rate_limit: quota({ http_429: 12, retry_after_s_max: 1 }),
        }),
      ],
      capacity: knee(2, 4, 'rate_limited'),
      cause: 'rate_limited',
      sentence:
        'At 4, 12 of 30 requests got HTTP 429 (Retry-After up to 1 s) without a used-up quota in its headers: the server or a gateway refused requests (a queue or rate limit), not a latency knee.',
    },
    {
      name: 'latency knee, a few 429s among its failures, no server metrics',
      stages: [stage(2, 'PASS'), stage(4, 'FAIL', { failed: 10, errors: { http_429: 1, timeout_first_token: 9 } })],
      capacity: knee(2, 4),
      cause: 'latency',
      sentence:
        "At 4 the SLO failed without a quota or rate limit (1 HTTP 429 was a minority of its failures): a latency knee; the server's metrics were not scraped, so nothing tells whether requests queued there.",
    },
    {
      name: 'failed at the first stage: no level below to compare',
      stages: [
        stage(4, 'FAIL', {
          server_metrics: metrics({ num_requests_running: 2, num_requests_waiting: 2 }),
        }),
      ],
      capacity: { concurrency: null, stopReason: 'failed_at_first_stage', stopDetail: '', bracket: null } as Capacity,
      cause: 'batch_full',
      sentence: "From 4, requests wait in the server's queue (mean 2) while 2 run: the batch is full.",
    },
  ])('$name', ({ stages, capacity, cause, sentence }) => {
    const e = explainKnee(stages, capacity);
    expect(e).toMatchObject({ cause, sentence });
  });

  it('pools a level and its confirmation by their samples; partial and INVALID stages do not count', () => {
    const e = explainKnee(
      [
        stage(16, 'PASS', { server_metrics: idle }),
        stage(18, 'FAIL', {
          server_metrics: metrics({ samples: 3, num_requests_running: 16, num_requests_waiting: 1 }),
        }),
        stage(18, 'FAIL', {
          server_metrics: metrics({ samples: 1, num_requests_running: 16, num_requests_waiting: 5 }),
        }),
        stage(18, 'FAIL', { partial: true, server_metrics: metrics({ num_requests_waiting: 100 }) }),
        stage(18, 'INVALID', { server_metrics: metrics({ num_requests_waiting: 100 }) }),
      ],
      knee(16, 18),
    );
    // (3 × 1 + 1 × 5) / 4 = 2
    expect(e?.sentence).toContain('(mean 2) while 16 run');
  });

  it('says nothing without a failing level above the capacity', () => {
    const cap: Capacity = { concurrency: 8, stopReason: 'max_reached', stopDetail: '', bracket: null };
    expect(explainKnee([stage(4, 'PASS'), stage(8, 'PASS')], cap)).toBeNull();
  });

  it('says when requests already wait at the capacity', () => {
    const e = explainKnee(
      [
        stage(16, 'PASS', { server_metrics: metrics({ num_requests_running: 16, num_requests_waiting: 0.4 }) }),
        stage(18, 'FAIL', { server_metrics: metrics({ num_requests_running: 16, num_requests_waiting: 2.5 }) }),
      ],
      knee(16, 18),
    );
    expect(e?.sentence).toBe(
      "Requests already wait at 16 (mean 0.4); from 18, requests wait in the server's queue (mean 2.5) while 16 run: the batch is full.",
    );
  });
});

describe('fmtCount', () => {
  it.each([
    [16, '16'],
    [15.96, '16'],
    [2.06, '2.1'],
    [0.04, '0.04'],
    [0, '0'],
  ])('%d → %s', (x, want) => expect(fmtCount(x)).toBe(want));
});
