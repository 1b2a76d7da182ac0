// Pure: records of one stage → StageResult (summary, rule results, verdict, generator health).
// Used both live and by `find-capacity report`, so a rebuilt report has identical numbers.
import type { RequestRecord } from '../model/record.ts';
import type { Profile } from '../profile/types.ts';
import { evaluateRules } from '../slo/evaluate.ts';
import { goodputFromRules } from '../slo/goodput.ts';
import { summarizeStage } from '../stats/summarize.ts';
import { formatDuration } from '../util/units.ts';
import type { StageSummary } from '../model/summary.ts';
import {
  MIN_TTFT_OVERHEAD_SAMPLES,
  type GeneratorHealth,
  type StageMeta,
  type StageResult,
  type Verdict,
} from '../model/verdict.ts';

export function healthLimits(profile: Pick<Profile, 'slo' | 'verdict'>): {
  eventLoopDelayP99Ms: number;
  minAchievedRatio: number;
} {
  const minAchievedRatio = profile.verdict.minAchievedConcurrency;
  if (profile.verdict.maxEventLoopDelayMs !== null)
    return { eventLoopDelayP99Ms: profile.verdict.maxEventLoopDelayMs, minAchievedRatio };
  const latency = profile.slo
    .filter((r) => r.kind === 'latency')
    .map((r) => (r.kind === 'latency' ? r.thresholdMs : Infinity));
  const tightest = latency.length > 0 ? Math.min(...latency) : Infinity;
  // A delayed event loop adds its delay to every timestamp: 5 % of the tightest latency SLO is the most we
  // accept, but never below 30 ms, the p99 a busy 2-core machine shows in short windows without any overload.
  return { eventLoopDelayP99Ms: Math.max(30, Number.isFinite(tightest) ? tightest * 0.05 : 30), minAchievedRatio };
}

type RuleEvaluation = ReturnType<typeof evaluateRules>[number];
type JudgeProfile = Pick<Profile, 'slo' | 'verdict' | 'goodput'>;

/**
 * A stage's verdict: FAIL when a rule's confidence interval lies beyond its threshold, PASS when
 * every interval lies on the right side, else INCONCLUSIVE — unless `final` (no extension left):
 * then the point estimates decide and the verdict is marked low confidence.
 */
export function judgeStage(
  profile: JudgeProfile,
  records: readonly RequestRecord[],
  meta: StageMeta,
  final = true,
): StageResult {
  const windows = meta.windows.length > 0 ? meta.windows : [meta.window];
  const summary = summarizeStage(records, windows, profile.goodput ?? goodputFromRules(profile.slo));
  const windowIndexes = new Set(windows.map((w) => w.index));
  const rules = evaluateRules(profile.slo, summary, records, profile.verdict.confidence, windowIndexes);
  const health = generatorHealth(profile, summary, meta);
  const { verdict, lowConfidence, reasons } = verdictOf(profile, summary, meta, rules, health, final);
  for (const w of warningsOf(summary, meta)) reasons.push(`warning: ${w}`);
  if (meta.stoppedBy === 'breaker') reasons.push('stopped early by the error-rate breaker');
  if (meta.stoppedBy === 'interrupted') reasons.push('interrupted: the window was cut short');
  if (meta.stoppedBy === 'budget') reasons.push('a run-wide safety limit was reached: the window was cut short');
  if (meta.stoppedBy === 'agent_lost')
    reasons.push('a load agent was lost mid-stage: the stage does not decide the capacity');
  return {
    summary,
    verdict,
    lowConfidence,
    reasons,
    rules: rules.map((r) => ({
      rule: r.rule,
      value: r.value,
      pass: r.pointPass,
      reason: r.reason,
      interval: r.interval,
      outcome: r.outcome,
    })),
    kind: meta.kind,
    aborted: meta.stoppedBy === 'breaker',
    partial: meta.stoppedBy === 'interrupted' || meta.stoppedBy === 'budget' || meta.stoppedBy === 'agent_lost',
    health,
  };
}

/** Problems that make a stage INVALID: the load generator, not the server, limited what was measured. */
function generatorHealth(profile: JudgeProfile, summary: StageSummary, meta: StageMeta): GeneratorHealth {
  const limits = healthLimits(profile);
  const limit = limits.eventLoopDelayP99Ms.toFixed(0);
  const problems: string[] = [...(meta.generatorProblems ?? [])];
  if (meta.eventLoopDelayP99Ms > limits.eventLoopDelayP99Ms) {
    problems.push(
      `event-loop delay p99 ${meta.eventLoopDelayP99Ms.toFixed(1)} ms > ${limit} ms: the load generator's timestamps are late`,
    );
  }
  // A few long stalls escape the delay histogram but still show as first tokens read later than the simulator sent them.
  const overhead = meta.ttftOverhead ?? null;
  const overheadP99 = overhead?.p99Ms ?? null;
  if (overheadP99 !== null && overhead!.n >= MIN_TTFT_OVERHEAD_SAMPLES && overheadP99 > limits.eventLoopDelayP99Ms) {
    problems.push(
      `TTFT overhead p99 ${overheadP99.toFixed(1)} ms > ${limit} ms: the load generator sees first tokens later than the simulator sent them (${overhead!.n} requests)`,
    );
  }
  const achievedRatio = summary.concurrency > 0 ? summary.achievedConcurrency / summary.concurrency : null;
  // Only meaningful when the window ran its course: a stage stopped early has a partial window.
  const ranItsCourse = meta.stoppedBy === null && summary.requests > 0;
  if (achievedRatio !== null && ranItsCourse && achievedRatio < limits.minAchievedRatio) {
    problems.push(
      `achieved concurrency ${summary.achievedConcurrency.toFixed(1)} is below ${Math.round(limits.minAchievedRatio * 100)}% of the target ${summary.concurrency}`,
    );
  }
  const lag = sendLagProblem(summary, limits.eventLoopDelayP99Ms);
  if (lag) problems.push(lag);
  return {
    eventLoopDelayP99Ms: meta.eventLoopDelayP99Ms,
    cpuPercent: meta.cpuPercent,
    achievedRatio,
    ttftOverhead: overhead,
    problems,
  };
}

/**
 * An open loop whose sends ran late behind its own schedule measured the generator, not the server: its send lag
 * p99 is judged like the TTFT overhead, from MIN_TTFT_OVERHEAD_SAMPLES sent requests on (one late send among fewer
 * would make the p99 by itself).
 */
function sendLagProblem(summary: StageSummary, limitMs: number): string | null {
  const lag = summary.sendLagMs;
  if (!lag || lag.p99 === null || lag.count < MIN_TTFT_OVERHEAD_SAMPLES || lag.p99 <= limitMs) return null;
  return `send lag p99 ${lag.p99.toFixed(1)} ms > ${limitMs.toFixed(0)} ms: the load generator fell behind its own arrival schedule (${lag.count} requests)`;
}

/** Warnings explain numbers without proving the generator wrong. */
function warningsOf(summary: StageSummary, meta: StageMeta): string[] {
  const warnings: string[] = [];
  const ratio = summary.littleLaw.ratio;
  if (ratio !== null && summary.completedInWindow >= 20 && (ratio < 0.7 || ratio > 1.3)) {
    warnings.push(
      `Little's law: achieved concurrency ${summary.achievedConcurrency.toFixed(1)} vs completions/s × mean E2E = ${summary.littleLaw.predicted!.toFixed(1)}: not steady state (window short compared with E2E?)`,
    );
  }
  if (meta.cpuPercent > 90)
    warnings.push(
      `load generator CPU at ${meta.cpuPercent.toFixed(0)}% of one core: close to its limit (use workers, or a bigger machine)`,
    );
  return warnings;
}

function verdictOf(
  profile: JudgeProfile,
  summary: StageSummary,
  meta: StageMeta,
  rules: readonly RuleEvaluation[],
  health: GeneratorHealth,
  final: boolean,
): { verdict: Verdict; lowConfidence: boolean; reasons: string[] } {
  if (health.problems.length > 0)
    return { verdict: 'INVALID', lowConfidence: false, reasons: health.problems.map((p) => `generator: ${p}`) };
  if (summary.requests === 0) {
    // Every worker was still busy with its warm-up request when the window closed: the server is that slow.
    const reason =
      'FAIL no request started in the measurement window: requests take longer than warm-up + window; lengthen ramp.stage.duration to measure this level';
    return { verdict: 'FAIL', lowConfidence: false, reasons: [reason] };
  }
  if (meta.stoppedBy === 'breaker') {
    const reasons = rules.map((r) => `${r.outcome === 'fail' || r.pointPass === false ? 'FAIL' : 'ok'} ${r.reason}`);
    reasons.push(`FAIL error rate ${((summary.errorRate ?? 0) * 100).toFixed(0)}% exceeded stop.max_error_rate`);
    return { verdict: 'FAIL', lowConfidence: false, reasons };
  }
  return verdictFromRules(profile, summary, meta, rules, final);
}

function verdictFromRules(
  profile: JudgeProfile,
  summary: StageSummary,
  meta: StageMeta,
  rules: readonly RuleEvaluation[],
  final: boolean,
): { verdict: Verdict; lowConfidence: boolean; reasons: string[] } {
  const undecided = rules.some((r) => r.outcome === 'undecided');
  let verdict: Verdict;
  let lowConfidence = false;
  if (rules.some((r) => r.outcome === 'fail')) verdict = 'FAIL';
  else if (!undecided) verdict = 'PASS';
  else if (!final) verdict = 'INCONCLUSIVE';
  else {
    verdict = rules.some((r) => r.pointPass === false) ? 'FAIL' : 'PASS';
    lowConfidence = true;
  }
  const reasons = rules.map((r) => `${ruleMark(r)} ${r.reason}`);
  if (lowConfidence)
    reasons.push(
      `low confidence: too few samples for the ${Math.round(profile.verdict.confidence * 100)}% interval to decide; judged on the point estimate. ${requestsToDecide(rules, summary)}`,
    );
  const windows = meta.windows.length > 0 ? meta.windows.length : 1;
  if (windows > 1)
    reasons.push(
      `extended ${windows - 1} time${windows > 2 ? 's' : ''}: ${summary.requests} requests pooled over ${windows} windows`,
    );
  return { verdict, lowConfidence, reasons };
}

/** "To decide: p99(ttft) < 2s needs about 420 requests; this stage had 120, and at its 2.00 QPS 420 take about 3m30s." */
function requestsToDecide(rules: readonly RuleEvaluation[], summary: StageSummary): string {
  const undecided = rules.filter((r) => r.outcome === 'undecided' && r.samples > 0);
  // Latency rules count successful requests (ITL: gaps), rate rules every request: scale to requests.
  const needs = undecided.map((r) =>
    r.samplesToDecide === null ? null : Math.ceil((r.samplesToDecide * summary.requests) / r.samples),
  );
  const parts = undecided.map((r, i) => {
    const n = needs[i];
    if (n === null || n === undefined) return `${r.rule} sits on its threshold (more requests would not decide it)`;
    return i === 0 ? `${r.rule} needs about ${n} requests` : `${r.rule} about ${n}`;
  });
  if (parts.length === 0) return '';
  const most = Math.max(0, ...needs.map((n) => n ?? 0));
  const time =
    most > 0 && summary.qps > 0
      ? `, and at its ${summary.qps.toFixed(2)} QPS ${most} take about ${roundedDuration(most / summary.qps)}`
      : '';
  return `To decide: ${parts.join(', ')}; this stage had ${summary.requests}${time}.`;
}

const roundedDuration = (seconds: number) => formatDuration(Math.max(1, Math.round(seconds)) * 1000);

function ruleMark(r: RuleEvaluation): string {
  if (r.outcome === 'fail') return 'FAIL';
  if (r.outcome === 'pass') return 'ok';
  if (r.pointPass === false) return 'FAIL?';
  return r.pointPass ? 'ok?' : '?';
}
