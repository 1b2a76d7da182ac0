// judgeStage on synthetic histories: confidence-interval verdicts, extension by pooling,
// the point-estimate fallback, and generator health.
import { describe, expect, it } from 'vitest';
import { judgeStage } from '../../src/controller/judge.ts';
import { MIN_TTFT_OVERHEAD_SAMPLES, type StageMeta } from '../../src/model/verdict.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { parseRule } from '../../src/slo/parse.ts';
import type { StageWindow } from '../../src/model/summary.ts';

function rec(stage: number, t0: number, ttft: number, ok = true): RequestRecord {
  return {
    id: `r${stage}-${t0}`,
    stage,
    phase: 'window',
    worker: 0,
    payload: 0,
    t0,
    headersAt: t0 + 1,
    firstContentAt: ok ? t0 + ttft : null,
    lastContentAt: ok ? t0 + ttft + 100 : null,
    end: t0 + ttft + 100,
    gapsMs: ok ? [50, 50] : [],
    contentChunks: ok ? 3 : 0,
    status: ok ? 200 : 500,
    ok,
    errorClass: ok ? null : 'http_5xx',
    error: ok ? null : '500 boom',
    errorPhase: null,
    finishReason: ok ? 'length' : null,
    promptTokens: 10,
    outputTokens: ok ? 3 : 0,
    outputTokensEstimated: false,
    retryAfterS: null,
  };
}

/** n requests in a window starting at `start`, TTFTs spread evenly over [lo, hi]. */
function window(
  index: number,
  start: number,
  n: number,
  lo: number,
  hi: number,
): { w: StageWindow; records: RequestRecord[] } {
  const records = Array.from({ length: n }, (_, i) =>
    rec(index, start + i * 10, lo + ((hi - lo) * i) / Math.max(1, n - 1)),
  );
  return { w: { index, concurrency: 8, startMs: start, endMs: start + n * 10 + 200 }, records };
}

const profile = (rules: string[], extra: Partial<{ maxEventLoopDelayMs: number | null }> = {}) => ({
  slo: rules.map(parseRule),
  verdict: {
    confidence: 0.95,
    confirmFailures: true,
    maxExtensions: 2,
    bisect: true,
    bisectResolution: null,
    maxEventLoopDelayMs: null,
    minAchievedConcurrency: 0,
    ...extra,
  },
});

function meta(windows: StageWindow[], o: Partial<StageMeta> = {}): StageMeta {
  return {
    window: windows[0]!,
    windows,
    kind: 'ramp',
    final: false,
    stoppedBy: null,
    eventLoopDelayP99Ms: 1,
    cpuPercent: 10,
    ...o,
  };
}

describe('judgeStage', () => {
  const p99 = profile(['p99(ttft) < 100ms']);

  it('30 fast samples cannot show a p99 below the threshold: INCONCLUSIVE', () => {
    const a = window(0, 0, 30, 20, 40);
    const r = judgeStage(p99, a.records, meta([a.w]), false);
    expect(r.verdict).toBe('INCONCLUSIVE');
    expect(r.rules[0]!.interval![1]).toBe(Infinity);
  });

  it('an INCONCLUSIVE stage becomes PASS once extensions pool enough samples', () => {
    const a = window(0, 0, 150, 20, 40);
    const b = window(1, 5000, 150, 20, 40);
    const c = window(2, 10000, 150, 20, 40);
    expect(judgeStage(p99, a.records, meta([a.w]), false).verdict).toBe('INCONCLUSIVE');
    const pooled = judgeStage(p99, [...a.records, ...b.records, ...c.records], meta([a.w, b.w, c.w]), false);
    expect(pooled.verdict).toBe('PASS');
    expect(pooled.lowConfidence).toBe(false);
    expect(pooled.summary.requests).toBe(450);
    expect(pooled.reasons.join(' ')).toMatch(/extended 2 times: 450 requests pooled over 3 windows/);
  });

  it('at the cap an undecided rule falls back to its point estimate, marked low confidence', () => {
    const a = window(0, 0, 30, 20, 40);
    const r = judgeStage(p99, a.records, meta([a.w], { final: true }), true);
    expect(r.verdict).toBe('PASS');
    expect(r.lowConfidence).toBe(true);
    expect(r.reasons.join(' ')).toMatch(/low confidence/);
    // Not just "too few samples": how many requests would decide it, and how long a window that is at this QPS.
    const qps = r.summary.qps.toFixed(2);
    const seconds = Math.round(368 / r.summary.qps);
    expect(r.reasons).toContain(
      `low confidence: too few samples for the 95% interval to decide; judged on the point estimate. To decide: p99(ttft) < 100ms needs about 368 requests; this stage had 30, and at its ${qps} QPS 368 take about ${seconds}s.`,
    );
  });

  it('a clear breach is a FAIL even from few samples', () => {
    const a = window(0, 0, 30, 500, 900);
    const r = judgeStage(p99, a.records, meta([a.w]), false);
    expect(r.verdict).toBe('FAIL');
    expect(r.lowConfidence).toBe(false);
  });

  it('a success-rate rule uses a binomial interval', () => {
    const rule = profile(['success_rate >= 90%']);
    const mk = (n: number, failures: number) => Array.from({ length: n }, (_, i) => rec(0, i * 10, 30, i >= failures));
    const w: StageWindow = { index: 0, concurrency: 4, startMs: 0, endMs: 10_000 };
    expect(judgeStage(rule, mk(10, 0), meta([w]), false).verdict).toBe('INCONCLUSIVE');
    expect(judgeStage(rule, mk(200, 2), meta([w]), false).verdict).toBe('PASS');
    expect(judgeStage(rule, mk(200, 60), meta([w]), false).verdict).toBe('FAIL');
  });

  it('a stage stopped by the error-rate breaker is a FAIL even when its latency rules hold', () => {
    const a = window(0, 0, 400, 20, 40);
    const r = judgeStage(p99, a.records, meta([a.w], { stoppedBy: 'breaker' }), true);
    expect(r.verdict).toBe('FAIL');
    expect(r.aborted).toBe(true);
    expect(r.reasons.join(' ')).toMatch(/exceeded stop.max_error_rate/);
  });

  it('a window in which no request started is a FAIL that says why, not a generator problem', () => {
    const w: StageWindow = { index: 0, concurrency: 4, startMs: 0, endMs: 1000 };
    const warm = [{ ...rec(0, -500, 30), phase: 'warmup' as const, end: 40_000 }];
    const r = judgeStage(p99, warm, meta([w]), true);
    expect(r.verdict).toBe('FAIL');
    expect(r.reasons[0]).toMatch(/no request started in the measurement window/);
  });

  it('a stage cut short by an interrupt or a safety limit is partial', () => {
    const a = window(0, 0, 400, 20, 40);
    expect(judgeStage(p99, a.records, meta([a.w], { stoppedBy: 'interrupted' }), true).partial).toBe(true);
    expect(judgeStage(p99, a.records, meta([a.w], { stoppedBy: 'budget' }), true).partial).toBe(true);
    expect(judgeStage(p99, a.records, meta([a.w]), true).partial).toBe(false);
  });

  it('a starved generator makes the stage INVALID whatever the rules say', () => {
    const a = window(0, 0, 400, 20, 40);
    const r = judgeStage(p99, a.records, meta([a.w], { eventLoopDelayP99Ms: 120 }), false);
    expect(r.verdict).toBe('INVALID');
    expect(r.health.problems[0]).toMatch(/event-loop delay p99 120\.0 ms > 30 ms/);
  });

  it('the event-loop threshold is configurable', () => {
    const a = window(0, 0, 400, 20, 40);
    const lenient = profile(['p99(ttft) < 100ms'], { maxEventLoopDelayMs: 200 });
    expect(judgeStage(lenient, a.records, meta([a.w], { eventLoopDelayP99Ms: 120 }), false).verdict).toBe('PASS');
  });

  it('achieved concurrency far below the target is INVALID', () => {
    const strict = { ...p99, verdict: { ...p99.verdict, minAchievedConcurrency: 0.8 } };
    // 400 requests of ~130 ms, one every 200 ms: under 1 in flight against a target of 8.
    const records = Array.from({ length: 400 }, (_, i) => rec(0, i * 200, 30));
    const w: StageWindow = { index: 0, concurrency: 8, startMs: 0, endMs: 80_000 };
    const r = judgeStage(strict, records, meta([w]), false);
    expect(r.verdict).toBe('INVALID');
    expect(r.health.problems.join(' ')).toMatch(/achieved concurrency .* below 80% of the target 8/);
  });
});

describe('judgeStage: TTFT overhead against the simulator', () => {
  const p99 = profile(['p99(ttft) < 100ms']);
  const a = window(0, 0, 400, 20, 40);
  const overhead = (p99Ms: number, n = 400) => ({ ttftOverhead: { n, p50Ms: 2, p99Ms } });

  it('a p99 over the event-loop limit makes the stage INVALID, whatever the rules and the event loop say', () => {
    const r = judgeStage(p99, a.records, meta([a.w], overhead(45.25)), false);
    expect(r.verdict).toBe('INVALID');
    expect(r.health.problems).toEqual([
      'TTFT overhead p99 45.3 ms > 30 ms: the load generator sees first tokens later than the simulator sent them (400 requests)',
    ]);
    expect(r.reasons[0]).toBe(`generator: ${r.health.problems[0]}`);
    expect(r.health.ttftOverhead).toEqual({ n: 400, p50Ms: 2, p99Ms: 45.25 });
  });

  it('uses the event-loop limit: 5% of the tightest latency SLO, or verdict.max_event_loop_delay', () => {
    const loose = profile(['p99(ttft) < 2s']);
    // 5% of 2 s = 100 ms.
    expect(judgeStage(loose, a.records, meta([a.w], overhead(90)), false).verdict).toBe('PASS');
    expect(judgeStage(loose, a.records, meta([a.w], overhead(110)), false).health.problems[0]).toMatch(
      /TTFT overhead p99 110\.0 ms > 100 ms/,
    );
    const set = profile(['p99(ttft) < 100ms'], { maxEventLoopDelayMs: 200 });
    expect(judgeStage(set, a.records, meta([a.w], overhead(150)), false).verdict).toBe('PASS');
  });

  it('a p99 under the limit leaves the verdict alone and is reported', () => {
    const r = judgeStage(p99, a.records, meta([a.w], overhead(29.9)), false);
    expect(r.verdict).toBe('PASS');
    expect(r.health.problems).toEqual([]);
    expect(r.health.ttftOverhead).toEqual({ n: 400, p50Ms: 2, p99Ms: 29.9 });
  });

  it(`is not judged on fewer than ${MIN_TTFT_OVERHEAD_SAMPLES} requests, but still reported`, () => {
    expect(MIN_TTFT_OVERHEAD_SAMPLES).toBe(100);
    const few = judgeStage(p99, a.records, meta([a.w], overhead(500, MIN_TTFT_OVERHEAD_SAMPLES - 1)), false);
    expect(few.verdict).toBe('PASS');
    expect(few.health.ttftOverhead?.n).toBe(99);
    expect(judgeStage(p99, a.records, meta([a.w], overhead(500, MIN_TTFT_OVERHEAD_SAMPLES)), false).verdict).toBe(
      'INVALID',
    );
  });

  it('no ground truth (null), nothing joined (n = 0) and a stages.jsonl line from before the check are ignored', () => {
    for (const m of [{ ttftOverhead: null }, { ttftOverhead: { n: 0, p50Ms: null, p99Ms: null } }, {}]) {
      const r = judgeStage(p99, a.records, meta([a.w], m), false);
      expect(r.verdict).toBe('PASS');
      expect(r.health.problems).toEqual([]);
    }
    expect(judgeStage(p99, a.records, meta([a.w]), false).health.ttftOverhead).toBeNull();
  });

  it('is listed with an event-loop problem when both hold', () => {
    const r = judgeStage(p99, a.records, meta([a.w], { eventLoopDelayP99Ms: 120, ...overhead(80) }), false);
    expect(r.verdict).toBe('INVALID');
    expect(r.health.problems.map((p) => p.replace(/ p99.*/, ''))).toEqual(['event-loop delay', 'TTFT overhead']);
  });
});
