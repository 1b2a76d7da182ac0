// A stage's rate-run numbers from its records: latencies from the scheduled time beside the service view from t0,
// send lag, dropped arrivals, goodput and its ratio, and the goodput rules with their confidence interval.
import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../src/model/record.ts';
import type { StageWindow } from '../../src/model/summary.ts';
import { evaluateRules } from '../../src/slo/evaluate.ts';
import { goodputFromRules } from '../../src/slo/goodput.ts';
import { parseRule } from '../../src/slo/parse.ts';
import { proportionInterval } from '../../src/stats/confidence.ts';
import { summarizeStage } from '../../src/stats/summarize.ts';

const WINDOW: StageWindow = { index: 1, concurrency: 0, offeredRate: 10, startMs: 1000, endMs: 3000 };

/** A successful record: scheduled at `at`, sent `lag` later, first token `ttft` after sending, done `e2e` after sending. */
function rec(
  at: number,
  o: { lag?: number; ttft?: number; e2e?: number; ok?: boolean; scheduled?: boolean; tokens?: number } = {},
): RequestRecord {
  const { lag = 0, ttft = 100, e2e = 500, ok = true, scheduled = true, tokens = 11 } = o;
  const t0 = at + lag;
  return {
    id: `r-${at}`,
    stage: 1,
    phase: at >= WINDOW.startMs ? 'window' : 'warmup',
    worker: 0,
    payload: 0,
    t0,
    scheduledAt: scheduled ? at : null,
    headersAt: t0 + 5,
    firstContentAt: ok ? t0 + ttft : null,
    lastContentAt: ok ? t0 + e2e : null,
    end: t0 + e2e,
    gapsMs: [],
    contentChunks: ok ? tokens : 0,
    status: ok ? 200 : 500,
    ok,
    errorClass: ok ? null : 'http_5xx',
    error: ok ? null : 'boom',
    errorPhase: null,
    finishReason: ok ? 'stop' : null,
    promptTokens: 3,
    outputTokens: ok ? tokens : 0,
    outputTokensEstimated: false,
    retryAfterS: null,
  };
}

function dropped(at: number): RequestRecord {
  return {
    ...rec(at, { ok: false }),
    t0: at,
    end: at,
    headersAt: null,
    errorClass: 'dropped',
    error: 'not sent',
    status: null,
  };
}

describe('latency from the scheduled time', () => {
  it('TTFT and E2E count from scheduledAt, the service view from t0, the difference is the send lag', () => {
    const s = summarizeStage(
      [rec(1000, { lag: 30, ttft: 100, e2e: 400 }), rec(1500, { lag: 10, ttft: 200, e2e: 600 })],
      WINDOW,
    );
    expect(s.ttftMs.max).toBe(210);
    expect(s.ttftMs.p50).toBe(170);
    expect(s.serviceTtftMs!.max).toBe(200);
    expect(s.e2eMs.max).toBe(610);
    expect(s.serviceE2eMs!.max).toBe(600);
    expect(s.ttfbMs.max).toBe(35);
    expect(s.sendLagMs).toMatchObject({ count: 2, p50: 20, max: 30 });
    expect(s.offeredRate).toBe(10);
  });

  it('a closed-loop record (no scheduled time) keeps t0 as its origin and has no send lag', () => {
    const w: StageWindow = { index: 1, concurrency: 4, startMs: 1000, endMs: 3000 };
    const s = summarizeStage([rec(1000, { lag: 30, scheduled: false })], w);
    expect(s.ttftMs.max).toBe(100);
    expect(s.serviceTtftMs!.max).toBe(100);
    expect(s.sendLagMs!.count).toBe(0);
    expect(s.offeredRate).toBeNull();
  });
});

describe('dropped arrivals and goodput', () => {
  const limits = { ttftMs: 1000, tpotMs: null, e2eMs: 2500 };
  const records = [
    rec(1000, { ttft: 400, e2e: 900 }), // good, completes at 1900 (in the window)
    rec(1200, { ttft: 1200, e2e: 1500 }), // TTFT over the limit
    rec(1400, { ttft: 900, e2e: 2600 }), // E2E over the limit
    rec(1600, { ttft: 100, e2e: 300 }), // good, completes at 1900
    rec(2900, { ttft: 100, e2e: 300 }), // good, completes at 3200: after the window
    rec(2000, { ok: false }), // failed
    dropped(2100),
    dropped(2200),
    rec(500, { ttft: 100, e2e: 600 }), // warm-up, good, completes at 1100: counts in goodput's completions
  ];

  it('counts drops as failures of their own class, and goodput by completion, its ratio by start', () => {
    const s = summarizeStage(records, WINDOW, limits);
    expect(s.requests).toBe(8);
    expect(s.dropped).toBe(2);
    expect(s.errors).toEqual({ http_5xx: 1, dropped: 2 });
    expect(s.successRate).toBe(5 / 8);
    expect(s.goodRequests).toBe(3);
    expect(s.goodputRatio).toBe(3 / 8);
    // Completed in the window and good: 1000, 1600 and the warm-up one; per second of a 2 s window.
    expect(s.goodput).toBe(1.5);
    expect(s.achievedRate).toBe(s.qps);
    expect(s.goodput!).toBeLessThanOrEqual(s.achievedRate!);
  });

  it('without limits every success is good; a TPOT limit spares single-token answers', () => {
    const none = summarizeStage(records, WINDOW);
    expect(none.goodRequests).toBe(5);
    const tpot = summarizeStage(
      [rec(1000, { tokens: 1, e2e: 5000 }), rec(1100, { tokens: 11, ttft: 0, e2e: 1000 })],
      WINDOW,
      {
        ttftMs: null,
        tpotMs: 50,
        e2eMs: null,
      },
    );
    // 1000 ms over 10 gaps: TPOT 100 ms > 50 ms; the one-token answer has no TPOT.
    expect(tpot.goodRequests).toBe(1);
  });

  it('goodput limits default to the loosest upper bound of the latency rules on ttft, tpot and e2e', () => {
    const rules = ['p50(ttft) < 300ms', 'p99(ttft) < 2s', 'avg(tpot) <= 50ms', 'p99(itl) < 1s', 'min_ok'].flatMap(
      (t) => {
        try {
          return [parseRule(t)];
        } catch {
          return [];
        }
      },
    );
    expect(goodputFromRules(rules)).toEqual({ ttftMs: 2000, tpotMs: 50, e2eMs: null });
    expect(goodputFromRules([parseRule('p99(e2e) > 1s')])).toEqual({ ttftMs: null, tpotMs: null, e2eMs: null });
  });

  it('judges goodput >= x/s on its value and goodput_ratio with the Wilson interval of good / requests', () => {
    const s = summarizeStage(records, WINDOW, limits);
    const [gp, ratio] = evaluateRules(
      [parseRule('goodput >= 1/s'), parseRule('goodput_ratio >= 95%')],
      s,
      records,
      0.95,
    );
    expect(gp).toMatchObject({ value: 1.5, interval: [1.5, 1.5], outcome: 'pass' });
    expect(ratio!.value).toBe(3 / 8);
    expect(ratio!.interval).toEqual(proportionInterval(3, 8, 0.95));
    expect(ratio!.outcome).toBe('fail');
    expect(ratio!.reason).toMatch(/^goodput_ratio = 37\.5% \(95% CI .+\), needs >= 95(\.0)?%$/);
  });
});
