// summary.json: the run's answer and every stage's evidence (schema documented in the README).
import os from 'node:os';
import { capacityLevel, type Capacity, type StageResult } from '../model/verdict.ts';
import type { Profile } from '../profile/types.ts';
import { REDACTED, redactHeaders, redactUrl } from '../util/secrets.ts';
import { stageLevel, type Dist, type StageSummary, type StageWindow } from '../model/summary.ts';
import { goodputFromRules } from '../slo/goodput.ts';
import type { SloFrontier } from '../model/frontier.ts';
import { capacityReviewJson } from './review-json.ts';
import type { ServerMetricsSource, StageRateLimit, StageServerMetrics } from '../model/server-metrics.ts';
import { explainKnee } from './knee-explanation.ts';
import { gcMode, type GcMode } from '../util/gc-mode.ts';

export const SCHEMA_VERSION = 1;

export interface RunMeta {
  toolVersion: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  baseUrl: string;
  /** Epoch ms of the run clock's zero, to join requests.jsonl with other logs. */
  clockOriginEpochMs: number;
  interrupted: boolean;
  node: string;
  cpus: number;
  /** CPUs this process could run on (taskset, a cpuset); absent in runs from before it was recorded. */
  cpusAvailable?: number;
  /** 'single-threaded' when it relaunched itself with --single-threaded-gc on one CPU (cli/relaunch.ts). */
  gc?: GcMode;
  platform: string;
  /** Where the server's metrics came from; null or absent when they were not scraped. */
  serverMetrics?: ServerMetricsSource | null;
}

export interface EfficiencyKnee {
  bestQps: number | null;
  bestQpsConcurrency: number | null;
  fraction: number;
  /** Smallest tested concurrency whose QPS reached `fraction` of the best; null when only the highest did. */
  concurrency: number | null;
  /** Best QPS × mean E2E at the lowest tested concurrency: where the two throughput asymptotes cross. */
  nStar: number | null;
  explanation: string;
}

const r3 = (x: number | null): number | null =>
  x === null || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000;
const dist = (d: Dist) => ({
  count: d.count,
  avg: r3(d.avg),
  p50: r3(d.p50),
  p90: r3(d.p90),
  p95: r3(d.p95),
  p99: r3(d.p99),
  max: r3(d.max),
});

/** The profile as saved in summary.json and profile.json: header secrets and URL credentials removed. */
export function redactProfile(p: Profile): Profile {
  return {
    ...p,
    target: {
      ...p.target,
      baseUrl: p.target.baseUrl === null ? null : redactUrl(p.target.baseUrl),
      headers: redactHeaders(p.target.headers),
      apiKeyEnv: p.target.apiKeyEnv,
    },
  };
}

export function efficiencyKnee(stages: readonly StageResult[], fraction: number): EfficiencyKnee {
  const valid = stages.filter((s) => s.verdict !== 'INVALID' && !s.partial && s.summary.requests > 0);
  if (valid.length === 0)
    return {
      bestQps: null,
      bestQpsConcurrency: null,
      fraction,
      concurrency: null,
      nStar: null,
      explanation: 'no valid stage',
    };
  let best = valid[0]!;
  for (const s of valid) if (s.summary.qps > best.summary.qps) best = s;
  const bestQps = best.summary.qps;
  const reaching = valid.filter((s) => s.summary.qps >= fraction * bestQps).map((s) => stageLevel(s.summary));
  const concurrency = reaching.length > 0 ? Math.min(...reaching) : null;
  let lowest = valid[0]!;
  for (const s of valid) if (stageLevel(s.summary) < stageLevel(lowest.summary)) lowest = s;
  const rate = (lowest.summary.offeredRate ?? null) !== null;
  const e2eS = lowest.summary.e2eMs.avg === null ? null : lowest.summary.e2eMs.avg / 1000;
  // N* is a concurrency (Little's law at saturation): no point on a rate run's axis.
  const nStar = e2eS === null || rate ? null : bestQps * e2eS;
  const unit = rate ? ' req/s' : '';
  const what = rate ? 'the offered rate' : 'concurrency';
  const top = Math.max(...valid.map((s) => stageLevel(s.summary)));
  // Only the highest level reaches the fraction: throughput was still rising there, the knee lies beyond the range.
  const reached = concurrency !== null && concurrency < top;
  const growth = reached ? '' : stillGrowing(valid, best, unit);
  return {
    bestQps,
    bestQpsConcurrency: stageLevel(best.summary),
    fraction,
    concurrency: reached ? concurrency : null,
    nStar,
    explanation:
      (reached
        ? `Throughput stops growing with ${what} around ${concurrency}${unit}: the smallest tested level reaching ${Math.round(fraction * 100)}% of the best QPS (${bestQps.toFixed(2)} at ${stageLevel(best.summary)}${unit}). `
        : `The efficiency knee is not reached within the tested range: throughput was still growing at the highest tested ${rate ? 'rate' : 'concurrency'} (${bestQps.toFixed(2)} QPS at ${stageLevel(best.summary)}${unit}${growth}), and no lower level reached ${Math.round(fraction * 100)}% of it. `) +
      (nStar === null
        ? ''
        : `N* = best QPS × mean E2E at concurrency ${lowest.summary.concurrency} = ${nStar.toFixed(1)}: beyond it requests mostly queue.`),
  };
}

/** ", up from 6.00 at 8": the best QPS against the next lower tested level, when there is one. */
function stillGrowing(valid: readonly StageResult[], best: StageResult, unit: string): string {
  const below = valid.filter((s) => stageLevel(s.summary) < stageLevel(best.summary));
  if (below.length === 0) return '';
  const next = below.reduce((a, b) => (stageLevel(b.summary) > stageLevel(a.summary) ? b : a));
  return `, up from ${next.summary.qps.toFixed(2)} at ${stageLevel(next.summary)}${unit}`;
}

/** The efficiency knee in summary.json: its level under `concurrency`, or under `rate` (req/s) in a rate run. */
function efficiencyJson(eff: EfficiencyKnee, rateRun: boolean) {
  return {
    concurrency: rateRun ? null : eff.concurrency,
    rate: rateRun ? eff.concurrency : null,
    fraction: eff.fraction,
    best_qps: r3(eff.bestQps),
    best_qps_concurrency: rateRun ? null : eff.bestQpsConcurrency,
    best_qps_rate: rateRun ? eff.bestQpsConcurrency : null,
    n_star: r3(eff.nStar),
    explanation: eff.explanation,
  };
}

export function stageJson(
  s: StageResult,
  windowStartMs: number,
  windowEndMs: number,
  stoppedBy: string | null,
  windows: readonly StageWindow[] = [],
  server: { serverMetrics?: StageServerMetrics | null; rateLimit?: StageRateLimit | null } = {},
) {
  const m = s.summary;
  return {
    index: m.index,
    concurrency: m.concurrency,
    kind: s.kind,
    verdict: s.verdict,
    low_confidence: s.lowConfidence,
    reasons: s.reasons,
    rules: s.rules.map((r) => ({
      rule: r.rule,
      value: r3(r.value),
      pass: r.pass,
      outcome: r.outcome ?? null,
      interval: r.interval ? [r3(r.interval[0]), r3(r.interval[1])] : null,
      reason: r.reason,
    })),
    stopped_by: stoppedBy,
    partial: s.partial,
    window: { start_ms: r3(windowStartMs), end_ms: r3(windowEndMs) },
    /** Every measurement window pooled into this stage (more than one when it was extended). */
    windows: windows.map((w) => ({ index: w.index, start_ms: r3(w.startMs), end_ms: r3(w.endMs) })),
    window_ms: r3(m.windowMs),
    requests: m.requests,
    ok: m.ok,
    failed: m.failed,
    success_rate: r3(m.successRate),
    error_rate: r3(m.errorRate),
    errors: m.errors,
    /** A few distinct error messages per class, as the server or client reported them (secrets removed). */
    error_samples: m.errorSamples,
    completed_in_window: m.completedInWindow,
    qps: r3(m.qps),
    completions_per_s: r3(m.completionsPerS),
    output_tokens: m.outputTokens,
    output_tokens_per_s: r3(m.outputTokensPerS),
    output_tokens_estimated: m.outputTokensEstimated,
    ttft_ms: dist(m.ttftMs),
    ttfb_ms: dist(m.ttfbMs),
    e2e_ms: dist(m.e2eMs),
    tpot_ms: dist(m.tpotMs),
    itl_ms: dist(m.itlMs),
    /** Time to the first answer token (reasoning excluded); TTFT by turn of conversations; token counts. */
    ttfo_ms: dist(m.ttfoMs),
    ttft_first_turn_ms: dist(m.ttftFirstTurnMs),
    ttft_later_turns_ms: dist(m.ttftLaterTurnsMs),
    prompt_tokens_avg: r3(m.promptTokensAvg),
    cached_tokens_avg: r3(m.cachedTokensAvg),
    reasoning_tokens_avg: r3(m.reasoningTokensAvg),
    output_tokens_short: m.outputTokensShort,
    achieved_concurrency: r3(m.achievedConcurrency),
    little_law: { predicted_concurrency: r3(m.littleLaw.predicted), ratio: r3(m.littleLaw.ratio) },
    retry_after_s: m.retryAfterS.length > 0 ? { count: m.retryAfterS.length, max: Math.max(...m.retryAfterS) } : null,
    /** The server's own gauges over the window (docs/server-metrics.md); null when not scraped. */
    server_metrics: server.serverMetrics ?? null,
    /** The quota headers of the window's HTTP 429s; null without a 429. */
    rate_limit: server.rateLimit ?? null,
    ...rateJson(m),
    health: {
      event_loop_delay_p99_ms: r3(s.health.eventLoopDelayP99Ms),
      cpu_percent: r3(s.health.cpuPercent),
      achieved_ratio: r3(s.health.achievedRatio),
      // Null when there is no ground truth to compare with (a target other than the built-in simulator).
      ttft_overhead_p50_ms: r3(s.health.ttftOverhead?.p50Ms ?? null),
      ttft_overhead_p99_ms: r3(s.health.ttftOverhead?.p99Ms ?? null),
      ttft_overhead_n: s.health.ttftOverhead?.n ?? null,
      problems: s.health.problems,
    },
  };
}

export type StageJson = ReturnType<typeof stageJson>;

const EMPTY_DIST: Dist = { count: 0, avg: null, p50: null, p90: null, p95: null, p99: null, max: null };

/**
 * A stage's rate-run numbers (README "Rate stages and goodput"): offered and achieved rate, goodput, dropped
 * arrivals, send lag, and the service latencies from t0. Every stage has them; offered_rate is null in a closed loop.
 */
export function rateJson(m: StageSummary) {
  return {
    offered_rate: r3(m.offeredRate ?? null),
    achieved_rate: r3(m.achievedRate ?? m.qps),
    goodput: r3(m.goodput ?? null),
    goodput_ratio: r3(m.goodputRatio ?? null),
    good_requests: m.goodRequests ?? null,
    dropped: m.dropped ?? 0,
    send_lag_ms: dist(m.sendLagMs ?? EMPTY_DIST),
    service_ttft_ms: dist(m.serviceTtftMs ?? EMPTY_DIST),
    service_e2e_ms: dist(m.serviceE2eMs ?? EMPTY_DIST),
  };
}

/** The capacity's level and what was measured at it, in a rate run's words as well as a concurrency run's. */
function capacityJson(capacity: Capacity, at: StageResult | null) {
  return {
    concurrency: capacity.concurrency,
    /** A rate run's capacity: the highest offered rate (req/s) that PASSED; null in a concurrency run. */
    rate: capacity.rate ?? null,
    stop_reason: capacity.stopReason,
    stop_detail: capacity.stopDetail,
    bracket: capacity.bracket,
    at_capacity: at
      ? {
          qps: r3(at.summary.qps),
          achieved_rate: r3(at.summary.achievedRate ?? at.summary.qps),
          goodput: r3(at.summary.goodput ?? null),
          goodput_ratio: r3(at.summary.goodputRatio ?? null),
          output_tokens_per_s: r3(at.summary.outputTokensPerS),
          ttft_ms: dist(at.summary.ttftMs),
          e2e_ms: dist(at.summary.e2eMs),
          success_rate: r3(at.summary.successRate),
          low_confidence: at.lowConfidence,
        }
      : null,
  };
}

export interface StageWithWindow {
  result: StageResult;
  windowStartMs: number;
  windowEndMs: number;
  stoppedBy: string | null;
  windows?: readonly StageWindow[];
  serverMetrics?: StageServerMetrics | null;
  rateLimit?: StageRateLimit | null;
}

/** `frontier`: the SLA tiers, computed from the run's records by the controller (null: not computed). */
export function buildSummary(
  profile: Profile,
  stages: readonly StageWithWindow[],
  capacity: Capacity,
  meta: RunMeta,
  frontier: SloFrontier | null = null,
) {
  const results = stages.map((s) => s.result);
  const level = capacityLevel(capacity);
  const atCapacity =
    level === null
      ? null
      : ([...results].reverse().find((s) => stageLevel(s.summary) === level && s.verdict === 'PASS') ?? null);
  const totals = { requests: 0, ok: 0, output_tokens: 0 };
  for (const s of results) {
    totals.requests += s.summary.requests;
    totals.ok += s.summary.ok;
    totals.output_tokens += s.summary.outputTokens;
  }
  const red = redactProfile(profile);
  const eff = efficiencyKnee(results, profile.report.efficiencyFraction);
  // A stage's number is its place in the run, as the terminal prints it; its windows keep the records' indices.
  const stageRows = stages.map((s, i) => ({
    ...stageJson(s.result, s.windowStartMs, s.windowEndMs, s.stoppedBy, s.windows ?? [], s),
    index: i,
  }));
  return {
    schema_version: SCHEMA_VERSION,
    tool_version: meta.toolVersion,
    name: profile.name,
    started_at: meta.startedAt,
    finished_at: meta.finishedAt,
    duration_s: r3(meta.durationS),
    interrupted: meta.interrupted,
    clock_origin_epoch_ms: meta.clockOriginEpochMs,
    target: {
      base_url: redactUrl(meta.baseUrl),
      model: profile.target.model,
      simulator: profile.target.simulator,
      api_key_env: profile.target.apiKeyEnv,
      api_key: profile.target.apiKeyEnv ? REDACTED : null,
    },
    environment: {
      node: meta.node,
      platform: meta.platform,
      cpus: meta.cpus,
      cpus_available: meta.cpusAvailable ?? null,
      gc: meta.gc ?? null,
    },
    capacity: capacityJson(capacity, atCapacity),
    efficiency_knee: efficiencyJson(eff, Boolean(profile.ramp.rate)),
    ...capacityReviewJson(profile, frontier, capacity.concurrency, atCapacity),
    /** Why the knee is where it is, from the server's metrics and the 429s' quota headers (null: nothing to say). */
    knee_explanation: explainKnee(stageRows, capacity),
    server_metrics_source: meta.serverMetrics
      ? { url: redactUrl(meta.serverMetrics.url), engine: meta.serverMetrics.engine, auth: meta.serverMetrics.auth }
      : null,
    totals,
    slo: profile.slo.map((r) => r.text),
    /** The per-request limits goodput was counted with: the profile's, else the latency rules' thresholds. */
    goodput_limits: goodputLimitsJson(profile),
    profile: red,
    stages: stageRows,
  };
}

export type SummaryJson = ReturnType<typeof buildSummary>;

function goodputLimitsJson(profile: Profile) {
  const g = profile.goodput ?? goodputFromRules(profile.slo);
  return { ttft_ms: g.ttftMs, tpot_ms: g.tpotMs, e2e_ms: g.e2eMs, from_rules: profile.goodput === undefined };
}

export function environmentMeta(): Pick<RunMeta, 'node' | 'cpus' | 'cpusAvailable' | 'gc' | 'platform'> {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpusAvailable: os.availableParallelism(),
    gc: gcMode(process.execArgv),
    platform: `${os.platform()} ${os.arch()}`,
  };
}
