// The coarse ramp a profile describes, and the dry-run text `find-capacity validate` prints.
import type { LevelUnit } from '../model/verdict.ts';
import type { ConcurrencyPlan, Profile, RampConfig, RatePlan, TokenLength } from './types.ts';
import { formatDuration, formatPercent } from '../util/units.ts';

/** The concurrency levels of the coarse ramp, strictly increasing (docs/profile.md, "Concurrency levels"). */
export function planLevels(plan: ConcurrencyPlan): number[] {
  if (plan.kind === 'list') return [...plan.levels];
  const levels: number[] = [];
  let level = plan.start;
  while (level <= plan.max) {
    levels.push(level);
    const next = plan.kind === 'step' ? level + plan.step : Math.ceil(level * plan.factor);
    // Guard against a factor so close to 1 that rounding could stall.
    level = Math.max(next, level + 1);
  }
  if (levels[levels.length - 1] !== plan.max) levels.push(plan.max);
  return levels;
}

/** Rates in req/s are kept to a thousandth, so a factor never leaves float noise in a level. */
export const roundRate = (x: number): number => Math.round(x * 1000) / 1000;

/** The offered rates of a rate run's coarse ramp (req/s), strictly increasing: like planLevels, without rounding up. */
export function planRateLevels(plan: RatePlan): number[] {
  if (plan.kind === 'list') return [...plan.levels];
  const levels: number[] = [];
  for (let level = plan.start; level <= plan.max + 1e-9;) {
    levels.push(roundRate(level));
    level = roundRate(plan.kind === 'step' ? level + plan.step : level * plan.factor);
  }
  if (levels[levels.length - 1] !== plan.max) levels.push(plan.max);
  return levels;
}

/** True for a rate run (`ramp.rate`): stages are open loops at offered rates. */
export function isRateRun(profile: Pick<Profile, 'ramp'>): boolean {
  return profile.ramp.rate !== undefined && profile.ramp.rate !== null;
}

/** What the run's levels are: offered rates in a rate run, else concurrencies. */
export function levelUnit(profile: Pick<Profile, 'ramp'>): LevelUnit {
  return isRateRun(profile) ? 'rate' : 'concurrency';
}

/** The coarse ramp's levels: concurrencies, or offered rates in a rate run. */
export function rampLevels(ramp: RampConfig): number[] {
  if (ramp.rate) return planRateLevels(ramp.rate);
  if (!ramp.concurrency) throw new Error('the ramp has neither concurrency nor rate');
  return planLevels(ramp.concurrency);
}

function describeLevels(levels: number[]): string {
  if (levels.length <= 12) return levels.join(', ');
  return `${levels.slice(0, 6).join(', ')}, ..., ${levels.slice(-3).join(', ')}`;
}

function describeConcurrency(plan: ConcurrencyPlan, unit = ''): string {
  switch (plan.kind) {
    case 'step':
      return `from ${plan.start} to ${plan.max}${unit} in steps of ${plan.step}`;
    case 'factor':
      return `from ${plan.start} to ${plan.max}${unit}, ×${plan.factor} per stage`;
    case 'list':
      return 'explicit levels';
  }
}

/** The ramp line of the dry run: concurrency levels, or offered rates with their arrival law. */
function describeRamp(ramp: RampConfig, levels: number[]): string {
  const n = levels.length;
  const stages = `${n} stage${n === 1 ? '' : 's'}`;
  if (!ramp.rate) return `Ramp: ${stages} ${describeConcurrency(ramp.concurrency!)}: ${describeLevels(levels)}`;
  const law = ramp.arrival === 'gamma' ? `gamma arrivals (burstiness ${ramp.burstiness})` : `${ramp.arrival} arrivals`;
  return `Ramp: ${stages} of offered rate ${describeConcurrency(ramp.rate, ' req/s')}: ${describeLevels(levels)} req/s; ${law}; at most ${ramp.maxInFlight} requests in flight (beyond: dropped)`;
}

/** The drain bound a run uses: never shorter than the total timeout, so no request is cut before its own timeout. */
export function effectiveDrainMs(profile: Pick<Profile, 'ramp' | 'request'>): number {
  return Math.max(profile.ramp.drainMs, profile.request.timeouts.totalMs + 1000);
}

/** The drain bound, and why it is longer than ramp.drain when the total timeout raised it. */
function describeDrain(profile: Profile): string {
  const drain = effectiveDrainMs(profile);
  if (drain === profile.ramp.drainMs) return `drain at most ${formatDuration(drain)}`;
  const total = formatDuration(profile.request.timeouts.totalMs);
  return `drain at most ${formatDuration(drain)} (ramp.drain ${formatDuration(profile.ramp.drainMs)} raised to request.timeouts.total ${total} + 1s: every request is followed to its end or its own timeout)`;
}

function describeTarget(target: Profile['target']): string {
  if (target.simulator) {
    const overrides = Object.keys(target.simulator.overrides);
    return `Target: built-in simulator, preset ${target.simulator.preset}${overrides.length ? ` with overrides ${overrides.join(', ')}` : ''}; model ${target.model}`;
  }
  return `Target: ${target.baseUrl ?? '?'}, model ${target.model}${target.apiKeyEnv ? `, API key from $${target.apiKeyEnv}` : ', no API key'}`;
}

/** A token length as written: N, or its mean and range. */
function describeLength(l: TokenLength): string {
  return l.min === l.max ? `${l.min}` : `mean ${l.mean} (${l.min}–${l.max})`;
}

/** What each request sends: inline messages, a dataset, or synthetic prompts; and as conversations. */
function describePayloads(request: Profile['request']): string {
  const s = request.synthetic;
  if (s) {
    const prefix = s.prefixTokens > 0 ? ` after a shared ${s.prefixTokens}-token system prompt` : '';
    return `synthetic prompts of ${describeLength(s.inputTokens)} tokens (${s.tokenizer})${prefix}, a fresh one per request (seed ${request.seed})`;
  }
  const n = request.payloads.length;
  if (request.source === 'inline') return 'inline messages';
  const format = request.dataset && request.dataset.format !== 'auto' ? `, ${request.dataset.format}` : '';
  return `${n} ${request.conversation ? 'conversation' : 'payload'}${n === 1 ? '' : 's'} from ${request.source}${format} (sampled with seed ${request.seed})`;
}

function describeRequest(request: Profile['request']): string {
  const conv = request.conversation;
  const turns = !conv
    ? ''
    : `; conversations of ${conv.turns === 'dataset' ? 'every turn of each record' : `${conv.turns} turns`}${conv.thinkTimeMs > 0 ? `, think time ${formatDuration(conv.thinkTimeMs)}` : ''}`;
  const tokens = request.synthetic?.outputTokens
    ? `max_tokens ${describeLength(request.synthetic.outputTokens)} per request`
    : request.maxTokensFromDataset
      ? 'max_tokens from each recorded reply'
      : request.maxTokens === null
        ? 'max_tokens not sent'
        : `max_tokens ${request.maxTokens}`;
  const endpoint = request.endpoint === 'completions' ? '; completions endpoint' : '';
  return `Request: ${describePayloads(request)}${turns}; ${tokens}${endpoint}; ${request.stream ? 'streaming' : 'not streaming (TTFT not measured)'}`;
}

/** Upper bounds of the coarse ramp of n stages: its time, then its requests. */
function describeBounds(profile: Profile, n: number): string[] {
  const { ramp, limits } = profile;
  const lines: string[] = [];
  if (ramp.stage.durationMs !== null) {
    const perStage = ramp.warmupMs + ramp.stage.durationMs + effectiveDrainMs(profile);
    const total = n * perStage;
    const capped =
      total > limits.maxDurationMs ? ` (capped by limits.max_duration ${formatDuration(limits.maxDurationMs)})` : '';
    lines.push(
      `Time: at most ${n} × (${formatDuration(ramp.warmupMs)} + ${formatDuration(ramp.stage.durationMs)} + ${formatDuration(effectiveDrainMs(profile))}) = ${formatDuration(total)} for the coarse ramp${capped}`,
    );
  } else {
    lines.push(
      `Time: stages end after ${ramp.stage.requests} requests, so time depends on the endpoint; bounded by limits.max_duration ${formatDuration(limits.maxDurationMs)}`,
    );
  }
  if (ramp.stage.requests !== null) {
    const measured = n * ramp.stage.requests;
    const capped = measured > limits.maxRequests ? ` (capped by limits.max_requests ${limits.maxRequests})` : '';
    lines.push(
      `Requests: at most ${n} × ${ramp.stage.requests} = ${measured} measured requests for the coarse ramp, plus warm-up requests${capped}`,
    );
  } else {
    lines.push(
      ramp.rate
        ? `Requests: about rate × (warm-up + window) per stage; at most limits.max_requests ${limits.maxRequests}`
        : `Requests: bounded by duration (closed loop: depends on latency); at most limits.max_requests ${limits.maxRequests}`,
    );
  }
  return lines;
}

/** The stages a run may add beyond the coarse ramp, or no line when it adds none. */
function describeExtraStages(verdict: Profile['verdict']): string[] {
  const extra: string[] = [];
  if (verdict.confirmFailures) extra.push('a failing stage is confirmed by a re-run');
  if (verdict.maxExtensions > 0)
    extra.push(
      `an inconclusive stage is extended up to ${verdict.maxExtensions} time${verdict.maxExtensions === 1 ? '' : 's'}`,
    );
  if (verdict.bisect) extra.push(`the knee is bisected to a resolution of ${verdict.bisectResolution ?? 'auto'}`);
  if (!extra.length) return [];
  return [`Extra stages: ${extra.join('; ')} (these add to the bounds above; the safety limits still apply)`];
}

/**
 * An upper bound on the whole search's time: every planned level and every bisection probe run three times
 * (INVALID, its re-run, a confirmation), each extended to the cap, each window followed by its whole drain; capped
 * by limits.max_duration. Stages that end on a request count have no time bound but that limit.
 */
export function searchBoundMs(profile: Profile): number {
  const { ramp, verdict, limits } = profile;
  if (ramp.stage.durationMs === null) return limits.maxDurationMs;
  const levels = rampLevels(ramp);
  const widest = Math.max(1, ...levels.slice(1).map((c, i) => c - levels[i]!));
  const probes = verdict.bisect ? Math.ceil(Math.log2(widest / (verdict.bisectResolution ?? 1))) : 0;
  const perWindow = ramp.warmupMs + ramp.stage.durationMs + effectiveDrainMs(profile);
  const windows = (levels.length + Math.max(0, probes)) * 3 * (1 + verdict.maxExtensions);
  return Math.min(limits.maxDurationMs, windows * perWindow);
}

function describeSearchBound(profile: Profile): string {
  const bound = searchBoundMs(profile);
  const why =
    bound === profile.limits.maxDurationMs
      ? 'limits.max_duration'
      : 'every level and bisection probe confirmed and extended to the cap, each with its whole drain';
  return `Whole search: at most ${formatDuration(bound)} (${why}); the progress line counts down from it`;
}

/** Human-readable plan for the dry run: stages, upper bounds on time and requests, safety limits. */
export function describePlan(profile: Profile): string {
  const { request, ramp, verdict, limits, stop } = profile;
  const levels = rampLevels(ramp);
  const n = levels.length;
  const window: string[] = [];
  if (ramp.stage.durationMs !== null) window.push(formatDuration(ramp.stage.durationMs));
  if (ramp.stage.requests !== null) window.push(`${ramp.stage.requests} requests`);
  return [
    `Profile ${profile.name} (${profile.file})`,
    describeTarget(profile.target),
    describeRequest(request),
    `Timeouts: first token ${formatDuration(request.timeouts.firstTokenMs)}, idle ${formatDuration(request.timeouts.idleMs)}, total ${formatDuration(request.timeouts.totalMs)}`,
    describeRamp(ramp, levels),
    `Each stage: warm-up ${formatDuration(ramp.warmupMs)}, window ${window.join(' or ')}${window.length > 1 ? ' (whichever comes first)' : ''}, ${describeDrain(profile)}`,
    profile.slo.length
      ? `SLO: ${profile.slo.map((r) => r.text).join('; ')}`
      : 'SLO: none (every stage passes; only the efficiency knee is reported)',
    ...describeBounds(profile, n),
    ...describeExtraStages(verdict),
    describeSearchBound(profile),
    `Verdicts: ${formatPercent(verdict.confidence)} confidence; ${stop.onBreach ? 'stop at the first confirmed breach' : 'keep ramping after a breach'}; abort a stage above ${formatPercent(stop.maxErrorRate)} errors`,
    `Safety limits: max_duration ${formatDuration(limits.maxDurationMs)}, max_requests ${limits.maxRequests}, max_output_tokens ${limits.maxOutputTokens} (the run stops at whichever comes first)`,
  ].join('\n');
}
