// Pure: request records + a stage window → StageSummary, exactly as defined in DESIGN.md §3.
// Percentiles use simple-statistics' quantileSorted (linear interpolation, R/numpy type 7).
import { quantileSorted } from 'simple-statistics';
import type { ErrorClass, RequestRecord } from '../model/record.ts';
import type { Dist, GoodputLimits, StageSummary, StageWindow } from '../model/summary.ts';

const EMPTY_DIST: Dist = { count: 0, avg: null, p50: null, p90: null, p95: null, p99: null, max: null };

/** Distribution of a sample (sorted in place). */
export function distribution(values: number[]): Dist {
  if (values.length === 0) return { ...EMPTY_DIST };
  values.sort((a, b) => a - b);
  let sum = 0;
  for (const v of values) sum += v;
  return {
    count: values.length,
    avg: sum / values.length,
    p50: quantileSorted(values, 0.5),
    p90: quantileSorted(values, 0.9),
    p95: quantileSorted(values, 0.95),
    p99: quantileSorted(values, 0.99),
    max: values[values.length - 1] ?? null,
  };
}

/**
 * Where a request's latencies count from: its scheduled send time in an open loop (the wait behind a slow
 * server or a late generator is part of what a user sees), else t0. Service latencies count from t0.
 */
export function latencyOrigin(r: RequestRecord): number {
  return r.scheduledAt ?? r.t0;
}

export function ttftOf(r: RequestRecord): number | null {
  return r.firstContentAt === null ? null : r.firstContentAt - latencyOrigin(r);
}

export function e2eOf(r: RequestRecord): number {
  return r.end - latencyOrigin(r);
}

export function ttfbOf(r: RequestRecord): number | null {
  return r.headersAt === null ? null : r.headersAt - latencyOrigin(r);
}

/** The open loop's send lag: how late the generator sent the request after its scheduled time; null in a closed loop. */
export function sendLagOf(r: RequestRecord): number | null {
  return r.scheduledAt === null || r.scheduledAt === undefined || r.errorClass === 'dropped'
    ? null
    : r.t0 - r.scheduledAt;
}

/** Succeeded within every goodput limit (a limit on TPOT does not apply to a single-token answer). */
export function isGood(r: RequestRecord, limits: GoodputLimits | null): boolean {
  if (!r.ok) return false;
  if (!limits) return true;
  const ttft = ttftOf(r);
  const tpot = tpotOf(r);
  if (limits.ttftMs !== null && (ttft === null || ttft > limits.ttftMs)) return false;
  if (limits.tpotMs !== null && tpot !== null && tpot > limits.tpotMs) return false;
  return limits.e2eMs === null || e2eOf(r) <= limits.e2eMs;
}

/** Time to the first answer token; null without one, and for records of runs from before it was recorded. */
export function ttfoOf(r: RequestRecord): number | null {
  return r.firstOutputAt == null ? null : r.firstOutputAt - latencyOrigin(r);
}

export function tpotOf(r: RequestRecord): number | null {
  if (r.firstContentAt === null || r.lastContentAt === null || r.outputTokens < 2) return null;
  return (r.lastContentAt - r.firstContentAt) / (r.outputTokens - 1);
}

/** Running counts over one stage's records, in record order. */
interface StageTally {
  requests: number;
  ok: number;
  errors: Partial<Record<ErrorClass, number>>;
  ttft: number[];
  ttfb: number[];
  e2e: number[];
  tpot: number[];
  itl: number[];
  completedInWindow: number;
  okCompletedInWindow: number;
  outputTokens: number;
  outputTokensEstimated: boolean;
  completedE2eSum: number;
  inFlightMs: number;
  retryAfterS: number[];
  errorSamples: Partial<Record<ErrorClass, string[]>>;
  good: number;
  goodCompleted: number;
  dropped: number;
  sendLag: number[];
  serviceTtft: number[];
  serviceE2e: number[];
}

function emptyTally(): StageTally {
  return {
    requests: 0,
    ok: 0,
    errors: {},
    ttft: [],
    ttfb: [],
    e2e: [],
    tpot: [],
    itl: [],
    completedInWindow: 0,
    okCompletedInWindow: 0,
    outputTokens: 0,
    outputTokensEstimated: false,
    completedE2eSum: 0,
    inFlightMs: 0,
    retryAfterS: [],
    errorSamples: {},
    good: 0,
    goodCompleted: 0,
    dropped: 0,
    sendLag: [],
    serviceTtft: [],
    serviceE2e: [],
  };
}

/** Time in flight and completions: every record of the stage, whatever its phase. */
function tallyWindowActivity(t: StageTally, r: RequestRecord, w: StageWindow, limits: GoodputLimits | null): void {
  // A dropped arrival was never in flight and completed nothing.
  if (r.errorClass === 'dropped') return;
  const ws = w.startMs;
  const we = w.endMs;
  // Time-average of in-flight requests: each request contributes its overlap with the window.
  const overlap = Math.min(r.end, we) - Math.max(r.t0, ws);
  if (overlap > 0) t.inFlightMs += overlap;
  if (r.end >= ws && r.end < we) {
    t.completedInWindow++;
    t.completedE2eSum += r.end - r.t0;
    t.outputTokens += r.outputTokens;
    if (r.outputTokensEstimated && r.outputTokens > 0) t.outputTokensEstimated = true;
    if (r.ok) t.okCompletedInWindow++;
    if (isGood(r, limits)) t.goodCompleted++;
  }
}

/** Success, errors and latency samples: only requests started in the window. */
function tallyJudged(t: StageTally, r: RequestRecord, limits: GoodputLimits | null): void {
  t.requests++;
  const lag = sendLagOf(r);
  if (lag !== null) t.sendLag.push(lag);
  if (!r.ok) {
    tallyFailure(t, r);
    return;
  }
  t.ok++;
  if (isGood(r, limits)) t.good++;
  const ttft = ttftOf(r);
  if (ttft !== null) t.ttft.push(ttft);
  const ttfb = ttfbOf(r);
  if (ttfb !== null) t.ttfb.push(ttfb);
  t.e2e.push(e2eOf(r));
  if (r.firstContentAt !== null) t.serviceTtft.push(r.firstContentAt - r.t0);
  t.serviceE2e.push(r.end - r.t0);
  const tpot = tpotOf(r);
  if (tpot !== null) t.tpot.push(tpot);
  for (const g of r.gapsMs) t.itl.push(g);
}

function tallyFailure(t: StageTally, r: RequestRecord): void {
  const cls: ErrorClass = r.errorClass ?? 'client_error';
  t.errors[cls] = (t.errors[cls] ?? 0) + 1;
  if (cls === 'dropped') t.dropped++;
  if (r.error) {
    const list = (t.errorSamples[cls] ??= []);
    if (list.length < 3 && !list.includes(r.error)) list.push(r.error);
  }
  if (r.retryAfterS !== null) t.retryAfterS.push(r.retryAfterS);
}

/**
 * One stage's summary over one window or several pooled ones (docs/design-notes.md, "Stage summary"):
 * requests started in a window are judged, those completed in it give QPS and tokens/s.
 */
export function summarizeStage(
  records: readonly RequestRecord[],
  windows: StageWindow | readonly StageWindow[],
  goodput: GoodputLimits | null = null,
): StageSummary {
  const list: readonly StageWindow[] = Array.isArray(windows) ? windows : [windows as StageWindow];
  const first = list[0];
  if (!first) throw new Error('summarizeStage needs at least one window');
  const byIndex = new Map(list.map((w) => [w.index, w]));
  let windowMs = 0;
  for (const w of list) windowMs += Math.max(0, w.endMs - w.startMs);

  const t = emptyTally();
  const traffic = emptyTrafficTally();
  for (const r of records) {
    const w = byIndex.get(r.stage);
    if (!w) continue;
    tallyWindowActivity(t, r, w, goodput);
    if (r.phase === 'window') {
      tallyJudged(t, r, goodput);
      if (r.ok) tallyTraffic(traffic, r);
    }
  }
  return { ...toSummary(first, windowMs, t), ...trafficSummary(traffic) };
}

/** What the traffic's shape adds (reasoning, turns, token counts): successful judged requests. */
interface TrafficTally {
  ttfo: number[];
  ttftFirstTurn: number[];
  ttftLaterTurns: number[];
  promptTokens: number[];
  cachedTokens: number[];
  reasoningTokens: number[];
  short: number;
}

function emptyTrafficTally(): TrafficTally {
  return {
    ttfo: [],
    ttftFirstTurn: [],
    ttftLaterTurns: [],
    promptTokens: [],
    cachedTokens: [],
    reasoningTokens: [],
    short: 0,
  };
}

function tallyTraffic(t: TrafficTally, r: RequestRecord): void {
  const ttfo = ttfoOf(r);
  if (ttfo !== null) t.ttfo.push(ttfo);
  const ttft = ttftOf(r);
  if (ttft !== null) ((r.turn ?? 1) > 1 ? t.ttftLaterTurns : t.ttftFirstTurn).push(ttft);
  if (r.promptTokens !== null) t.promptTokens.push(r.promptTokens);
  if (r.cachedTokens != null) t.cachedTokens.push(r.cachedTokens);
  if (r.reasoningTokens != null) t.reasoningTokens.push(r.reasoningTokens);
  const asked = r.requestedOutputTokens;
  if (asked != null && !r.outputTokensEstimated && r.outputTokens < asked) t.short++;
}

const mean = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

function trafficSummary(t: TrafficTally) {
  return {
    ttfoMs: distribution(t.ttfo),
    ttftFirstTurnMs: distribution(t.ttftFirstTurn),
    ttftLaterTurnsMs: distribution(t.ttftLaterTurns),
    promptTokensAvg: mean(t.promptTokens),
    cachedTokensAvg: mean(t.cachedTokens),
    reasoningTokensAvg: mean(t.reasoningTokens),
    outputTokensShort: t.short,
  };
}

function toSummary(
  first: StageWindow,
  windowMs: number,
  t: StageTally,
): Omit<StageSummary, keyof ReturnType<typeof trafficSummary>> {
  const windowS = windowMs / 1000;
  const { requests, ok, completedInWindow } = t;
  const completionsPerS = windowS > 0 ? completedInWindow / windowS : 0;
  const meanCompletedE2e = completedInWindow > 0 ? t.completedE2eSum / completedInWindow : null;
  const achievedConcurrency = windowMs > 0 ? t.inFlightMs / windowMs : 0;
  const predicted = meanCompletedE2e === null ? null : (completionsPerS * meanCompletedE2e) / 1000;

  return {
    index: first.index,
    concurrency: first.concurrency,
    windowMs,
    requests,
    ok,
    failed: requests - ok,
    successRate: requests > 0 ? ok / requests : null,
    errorRate: requests > 0 ? (requests - ok) / requests : null,
    errors: t.errors,
    completedInWindow,
    okCompletedInWindow: t.okCompletedInWindow,
    qps: windowS > 0 ? t.okCompletedInWindow / windowS : 0,
    completionsPerS,
    outputTokensPerS: windowS > 0 ? t.outputTokens / windowS : 0,
    outputTokensEstimated: t.outputTokensEstimated,
    outputTokens: t.outputTokens,
    ttftMs: distribution(t.ttft),
    ttfbMs: distribution(t.ttfb),
    e2eMs: distribution(t.e2e),
    tpotMs: distribution(t.tpot),
    itlMs: distribution(t.itl),
    achievedConcurrency,
    littleLaw: {
      predicted,
      ratio: predicted !== null && predicted > 0 ? achievedConcurrency / predicted : null,
    },
    retryAfterS: t.retryAfterS,
    errorSamples: t.errorSamples,
    ...rateFields(first, windowS, t),
  };
}

/** What a rate run is judged on, computed for every stage: offered and achieved rate, goodput, drops, send lag. */
function rateFields(first: StageWindow, windowS: number, t: StageTally) {
  return {
    offeredRate: first.offeredRate ?? null,
    achievedRate: windowS > 0 ? t.okCompletedInWindow / windowS : 0,
    goodRequests: t.good,
    goodput: windowS > 0 ? t.goodCompleted / windowS : 0,
    goodputRatio: t.requests > 0 ? t.good / t.requests : null,
    dropped: t.dropped,
    sendLagMs: distribution(t.sendLag),
    serviceTtftMs: distribution(t.serviceTtft),
    serviceE2eMs: distribution(t.serviceE2e),
  };
}

/** Raw samples of one latency metric over the requests judged in a stage (successful, started in the window). */
export function metricSamples(
  records: readonly RequestRecord[],
  stages: ReadonlySet<number>,
  metric: 'ttft' | 'ttfb' | 'e2e' | 'tpot' | 'itl' | 'ttfo',
): number[] {
  const out: number[] = [];
  for (const r of records) {
    if (!stages.has(r.stage) || r.phase !== 'window' || !r.ok) continue;
    if (metric === 'itl') {
      for (const g of r.gapsMs) out.push(g);
      continue;
    }
    const v =
      metric === 'ttft'
        ? ttftOf(r)
        : metric === 'ttfo'
          ? ttfoOf(r)
          : metric === 'ttfb'
            ? ttfbOf(r)
            : metric === 'e2e'
              ? e2eOf(r)
              : tpotOf(r);
    if (v !== null) out.push(v);
  }
  return out;
}
