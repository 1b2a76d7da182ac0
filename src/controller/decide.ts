// Pure: "what runs next" from the profile and the history of judged stages (DESIGN.md §4).
// Ramp through the planned levels; confirm a FAIL before it ends the ramp; bisect the bracket
// [last PASS, first confirmed FAIL] down to the resolution; stop with the capacity and why.
import type { Profile } from '../profile/types.ts';
import type { Capacity, StageResult } from '../model/verdict.ts';

/** Why a stage runs: a new level (ramp, confirm, bisect), or another window of the stage in progress. */
export type RunWhy = StageResult['kind'] | 'extend';

export type NextStep = { kind: 'run'; concurrency: number; why: RunWhy } | { kind: 'stop'; capacity: Capacity };

export interface DecideInput {
  profile: {
    stop: Pick<Profile['stop'], 'onBreach'>;
    verdict: Pick<Profile['verdict'], 'confirmFailures' | 'bisect' | 'bisectResolution'>;
  };
  levels: readonly number[];
  history: readonly StageResult[];
  /** The stage in progress as last judged, when it was not decided yet (INCONCLUSIVE). */
  open?: StageResult | null;
}

type LevelStatus = 'PASS' | 'FAIL' | 'UNCONFIRMED_FAIL' | 'INVALID' | 'UNCONFIRMED_INVALID';

/** The status of every tested level: the last judgment at that level, a FAIL being confirmed by a second FAIL. */
export type { LevelStatus };

export function levelStatuses(history: readonly StageResult[], confirmFailures: boolean): Map<number, LevelStatus> {
  const byLevel = new Map<number, StageResult[]>();
  for (const s of history) {
    const list = byLevel.get(s.summary.concurrency) ?? [];
    list.push(s);
    byLevel.set(s.summary.concurrency, list);
  }
  const out = new Map<number, LevelStatus>();
  for (const [level, list] of byLevel) {
    const last = list[list.length - 1]!;
    if (last.verdict === 'PASS') out.set(level, 'PASS');
    else if (last.verdict === 'INVALID') {
      // One re-run first: a passing hiccup of the machine should not end the search.
      const prev = list[list.length - 2];
      out.set(level, prev?.verdict === 'INVALID' ? 'INVALID' : 'UNCONFIRMED_INVALID');
    } else if (last.verdict === 'FAIL') {
      const prev = list[list.length - 2];
      const confirmed = !confirmFailures || last.aborted || prev?.verdict === 'FAIL';
      out.set(level, confirmed ? 'FAIL' : 'UNCONFIRMED_FAIL');
    }
    // INCONCLUSIVE never enters the history: decide extends it (`open`) until the judge decides.
  }
  return out;
}

/** Bisection resolution: 1 for a coarse bracket up to 64 wide, else about 5 % of it. */
export function autoResolution(width: number): number {
  return width <= 64 ? 1 : Math.max(1, Math.round(width * 0.05));
}

function dominantlyRateLimited(s: StageResult | undefined): boolean {
  if (!s || s.summary.failed === 0) return false;
  return (s.summary.errors.http_429 ?? 0) / s.summary.failed > 0.5;
}

function dominantlyUnreachable(s: StageResult): boolean {
  if (s.summary.failed === 0) return false;
  // A dead target refuses at once, so refusals dominate a stage in which it died.
  return (s.summary.errors.connection_refused ?? 0) / s.summary.failed > 0.5;
}

export function decide({ profile, levels, history, open }: DecideInput): NextStep {
  const first = levels[0];
  if (first === undefined) throw new Error('no concurrency levels planned');
  // An undecided stage is extended: another window at the same level, pooled with the first.
  if (open?.verdict === 'INCONCLUSIVE') return { kind: 'run', concurrency: open.summary.concurrency, why: 'extend' };
  if (history.length === 0) return { kind: 'run', concurrency: first, why: 'ramp' };
  const last = history[history.length - 1]!;
  const status = levelStatuses(history, profile.verdict.confirmFailures);
  const lastStatus = status.get(last.summary.concurrency);
  if (lastStatus === 'UNCONFIRMED_FAIL' || lastStatus === 'UNCONFIRMED_INVALID')
    return { kind: 'run', concurrency: last.summary.concurrency, why: 'confirm' };
  const b = bounds(status);
  return (
    stopForGenerator(b) ??
    stopForBreaker(last, lastStatus, b.bestPass) ??
    nextRampOrMax(profile, levels, history, b) ??
    bisectOrStop(profile, history, status, b)
  );
}

interface Bounds {
  bestPass: number | null;
  minFail: number | null;
  minInvalid: number | null;
}

/** The highest PASS below every FAIL and INVALID level, and those lowest failing levels. */
function bounds(status: ReadonlyMap<number, LevelStatus>): Bounds {
  const levelsWith = (st: LevelStatus) => [...status].filter(([, s]) => s === st).map(([c]) => c);
  const lowest = (xs: number[]) => (xs.length > 0 ? Math.min(...xs) : null);
  const minFail = lowest(levelsWith('FAIL'));
  const minInvalid = lowest(levelsWith('INVALID'));
  const ceiling = Math.min(minFail ?? Infinity, minInvalid ?? Infinity);
  const below = levelsWith('PASS').filter((c) => c < ceiling);
  return { bestPass: below.length > 0 ? Math.max(...below) : null, minFail, minInvalid };
}

function stopForGenerator({ bestPass, minFail, minInvalid }: Bounds): NextStep | null {
  if (minInvalid === null || (minFail !== null && minInvalid >= minFail)) return null;
  const detail = `the load generator could not hold ${minInvalid} concurrent requests (twice), so higher levels were not tested: run with more workers (workers: N), on a bigger or less busy machine, or closer to the target`;
  return stop(bestPass, 'generator_limit', detail, null);
}

function stopForBreaker(last: StageResult, lastStatus: LevelStatus | undefined, bestPass: number | null) {
  if (!last.aborted || lastStatus !== 'FAIL') return null;
  const level = last.summary.concurrency;
  const bracket: [number, number] | null = bestPass === null ? null : [bestPass, level];
  if (dominantlyRateLimited(last)) {
    const detail = `at concurrency ${level} most failures were HTTP 429 (the stage was stopped early): the capacity found is the endpoint's rate limit, not the engine's`;
    return stop(bestPass, 'rate_limited', detail, bracket);
  }
  if (dominantlyUnreachable(last)) {
    const detail = `the target stopped accepting connections during the stage at concurrency ${level}`;
    return stop(bestPass, 'target_unreachable', detail, null);
  }
  const detail = `stage at concurrency ${level} exceeded the max error rate and was stopped early`;
  return stop(bestPass, 'error_rate_breaker', detail, bracket);
}

function nextRampOrMax(
  profile: DecideInput['profile'],
  levels: readonly number[],
  history: readonly StageResult[],
  { bestPass, minFail }: Bounds,
): NextStep | null {
  if (minFail !== null && profile.stop.onBreach) return null;
  const tested = new Set(history.map((s) => s.summary.concurrency));
  const maxTested = Math.max(...tested);
  const nextRamp = levels.find((c) => c > maxTested && !tested.has(c));
  if (nextRamp !== undefined) return { kind: 'run', concurrency: nextRamp, why: 'ramp' };
  if (minFail !== null) return null;
  const detail = `every level up to the maximum ${maxTested} passed: capacity is at least ${maxTested}`;
  return stop(bestPass, 'max_reached', detail, null);
}

/** A confirmed FAIL exists: bisect the bracket, then stop at the knee. */
function bisectOrStop(
  profile: DecideInput['profile'],
  history: readonly StageResult[],
  status: ReadonlyMap<number, LevelStatus>,
  { bestPass, minFail }: Bounds,
): NextStep {
  const fail = minFail!;
  const failStage = [...history].reverse().find((s) => s.summary.concurrency === fail);
  const rateLimited = dominantlyRateLimited(failStage);
  if (bestPass === null) {
    const detail = `the SLO already failed at concurrency ${fail}, the lowest level tested`;
    return stop(null, rateLimited ? 'rate_limited' : 'failed_at_first_stage', detail, null);
  }
  const mid = bisectionPoint(profile, history, status, bestPass, fail);
  if (mid !== null) return { kind: 'run', concurrency: mid, why: 'bisect' };
  const detail = rateLimited
    ? `at concurrency ${fail} most failures were HTTP 429: the capacity found is the endpoint's rate limit, not the engine's`
    : `the SLO held at ${bestPass} and failed (confirmed) at ${fail}`;
  return stop(bestPass, rateLimited ? 'rate_limited' : 'knee_found', detail, [bestPass, fail]);
}

function bisectionPoint(
  profile: DecideInput['profile'],
  history: readonly StageResult[],
  status: ReadonlyMap<number, LevelStatus>,
  bestPass: number,
  minFail: number,
): number | null {
  if (!profile.verdict.bisect) return null;
  // The resolution comes from the coarse bracket the ramp found, not from the shrinking bisection bracket.
  const ramp = history.filter((s) => s.kind === 'ramp');
  const rampFails = ramp.filter((s) => status.get(s.summary.concurrency) === 'FAIL').map((s) => s.summary.concurrency);
  const coarseHigh = rampFails.length > 0 ? Math.min(...rampFails) : minFail;
  const rampPasses = ramp
    .filter((s) => status.get(s.summary.concurrency) === 'PASS' && s.summary.concurrency < coarseHigh)
    .map((s) => s.summary.concurrency);
  const coarseLow = rampPasses.length > 0 ? Math.max(...rampPasses) : bestPass;
  const resolution = profile.verdict.bisectResolution ?? autoResolution(coarseHigh - coarseLow);
  if (minFail - bestPass <= resolution) return null;
  const mid = Math.floor((bestPass + minFail) / 2);
  const tested = new Set(history.map((s) => s.summary.concurrency));
  return !tested.has(mid) && mid > bestPass && mid < minFail ? mid : null;
}

function stop(
  concurrency: number | null,
  stopReason: Capacity['stopReason'],
  stopDetail: string,
  bracket: [number, number] | null,
): NextStep {
  return { kind: 'stop', capacity: { concurrency, stopReason, stopDetail, bracket } };
}
