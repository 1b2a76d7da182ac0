// Pure: "what runs next" from the profile and the history of judged stages (DESIGN.md §4).
// Ramp through the planned levels; confirm a FAIL before it ends the ramp; bisect the bracket
// [last PASS, first confirmed FAIL] down to the resolution; stop with the capacity and why.
import type { Profile } from '../profile/types.ts';
import { stageLevel } from '../model/summary.ts';
import type { Capacity, LevelUnit, StageResult } from '../model/verdict.ts';

/** Why a stage runs: a new level (ramp, confirm, bisect), or another window of the stage in progress. */
export type RunWhy = StageResult['kind'] | 'extend';

/** A stage to run at `level`: named `concurrency` in a concurrency run, `rate` (req/s) in a rate run. */
export type RunStep = { kind: 'run'; level: number; why: RunWhy; concurrency?: number; rate?: number };

export type NextStep = RunStep | { kind: 'stop'; capacity: Capacity };

export interface DecideInput {
  profile: {
    stop: Pick<Profile['stop'], 'onBreach'>;
    verdict: Pick<Profile['verdict'], 'confirmFailures' | 'bisect' | 'bisectResolution'>;
  };
  levels: readonly number[];
  history: readonly StageResult[];
  /** The stage in progress as last judged, when it was not decided yet (INCONCLUSIVE). */
  open?: StageResult | null;
  /** What the levels are (default: concurrency): a rate run bisects in req/s and names its capacity `rate`. */
  unit?: LevelUnit;
}

type LevelStatus = 'PASS' | 'FAIL' | 'UNCONFIRMED_FAIL' | 'INVALID' | 'UNCONFIRMED_INVALID';

/** The status of every tested level: the last judgment at that level, a FAIL being confirmed by a second FAIL. */
export type { LevelStatus };

export function levelStatuses(history: readonly StageResult[], confirmFailures: boolean): Map<number, LevelStatus> {
  const byLevel = new Map<number, StageResult[]>();
  for (const s of history) {
    const list = byLevel.get(stageLevel(s.summary)) ?? [];
    list.push(s);
    byLevel.set(stageLevel(s.summary), list);
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

/** A rate run's bisection resolution: 5 % of the coarse bracket's first FAIL (req/s), a relative precision. */
export function autoRateResolution(coarseFail: number): number {
  return coarseFail * 0.05;
}

/** How a run names its levels in sentences, and where it bisects. */
interface Levels {
  unit: LevelUnit;
  /** e.g. "concurrency 8" or "8 req/s". */
  at(level: number): string;
  mid(low: number, high: number): number;
  run(level: number, why: RunWhy): RunStep;
}

const CONCURRENCY_LEVELS: Levels = {
  unit: 'concurrency',
  at: (c) => `concurrency ${c}`,
  mid: (a, b) => Math.floor((a + b) / 2),
  run: (level, why) => ({ kind: 'run', level, concurrency: level, why }),
};

const RATE_LEVELS: Levels = {
  unit: 'rate',
  at: (r) => `${r} req/s`,
  mid: (a, b) => Math.round(((a + b) / 2) * 1000) / 1000,
  run: (level, why) => ({ kind: 'run', level, rate: level, why }),
};

const levelsOf = (unit: LevelUnit | undefined): Levels => (unit === 'rate' ? RATE_LEVELS : CONCURRENCY_LEVELS);

function dominantlyRateLimited(s: StageResult | undefined): boolean {
  if (!s || s.summary.failed === 0) return false;
  return (s.summary.errors.http_429 ?? 0) / s.summary.failed > 0.5;
}

function dominantlyUnreachable(s: StageResult): boolean {
  if (s.summary.failed === 0) return false;
  // A dead target refuses at once, so refusals dominate a stage in which it died.
  return (s.summary.errors.connection_refused ?? 0) / s.summary.failed > 0.5;
}

export function decide({ profile, levels, history, open, unit }: DecideInput): NextStep {
  const L = levelsOf(unit);
  const first = levels[0];
  if (first === undefined) throw new Error('no levels planned');
  // An undecided stage is extended: another window at the same level, pooled with the first.
  if (open?.verdict === 'INCONCLUSIVE') return L.run(stageLevel(open.summary), 'extend');
  if (history.length === 0) return L.run(first, 'ramp');
  const last = history[history.length - 1]!;
  const status = levelStatuses(history, profile.verdict.confirmFailures);
  const lastStatus = status.get(stageLevel(last.summary));
  if (lastStatus === 'UNCONFIRMED_FAIL' || lastStatus === 'UNCONFIRMED_INVALID')
    return L.run(stageLevel(last.summary), 'confirm');
  const b = bounds(status);
  return (
    stopForGenerator(L, b) ??
    stopForBreaker(L, last, lastStatus, b.bestPass) ??
    nextRampOrMax(L, profile, levels, history, b) ??
    bisectOrStop(L, profile, history, status, b)
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

function stopForGenerator(L: Levels, { bestPass, minFail, minInvalid }: Bounds): NextStep | null {
  if (minInvalid === null || (minFail !== null && minInvalid >= minFail)) return null;
  const what = L.unit === 'rate' ? `an offered rate of ${minInvalid} req/s` : `${minInvalid} concurrent requests`;
  const detail = `the load generator could not hold ${what} (twice), so higher levels were not tested: run with more workers (workers: N), on a bigger or less busy machine, or closer to the target`;
  return stop(L, bestPass, 'generator_limit', detail, null);
}

function stopForBreaker(L: Levels, last: StageResult, lastStatus: LevelStatus | undefined, bestPass: number | null) {
  if (!last.aborted || lastStatus !== 'FAIL') return null;
  const level = stageLevel(last.summary);
  const bracket: [number, number] | null = bestPass === null ? null : [bestPass, level];
  if (dominantlyRateLimited(last)) {
    const detail = `at ${L.at(level)} most failures were HTTP 429 (the stage was stopped early): the capacity found is the endpoint's rate limit, not the engine's`;
    return stop(L, bestPass, 'rate_limited', detail, bracket);
  }
  if (dominantlyUnreachable(last)) {
    const detail = `the target stopped accepting connections during the stage at ${L.at(level)}`;
    return stop(L, bestPass, 'target_unreachable', detail, null);
  }
  const detail = `stage at ${L.at(level)} exceeded the max error rate and was stopped early`;
  return stop(L, bestPass, 'error_rate_breaker', detail, bracket);
}

function nextRampOrMax(
  L: Levels,
  profile: DecideInput['profile'],
  levels: readonly number[],
  history: readonly StageResult[],
  { bestPass, minFail }: Bounds,
): NextStep | null {
  if (minFail !== null && profile.stop.onBreach) return null;
  const tested = new Set(history.map((s) => stageLevel(s.summary)));
  const maxTested = Math.max(...tested);
  const nextRamp = levels.find((c) => c > maxTested && !tested.has(c));
  if (nextRamp !== undefined) return L.run(nextRamp, 'ramp');
  if (minFail !== null) return null;
  const top = L.unit === 'rate' ? `${maxTested} req/s` : `${maxTested}`;
  const detail = `every level up to the maximum ${top} passed: capacity is at least ${top}`;
  return stop(L, bestPass, 'max_reached', detail, null);
}

/** A confirmed FAIL exists: bisect the bracket, then stop at the knee. */
function bisectOrStop(
  L: Levels,
  profile: DecideInput['profile'],
  history: readonly StageResult[],
  status: ReadonlyMap<number, LevelStatus>,
  { bestPass, minFail }: Bounds,
): NextStep {
  const fail = minFail!;
  const failStage = [...history].reverse().find((s) => stageLevel(s.summary) === fail);
  const rateLimited = dominantlyRateLimited(failStage);
  if (bestPass === null) {
    const detail = `the SLO already failed at ${L.at(fail)}, the lowest level tested`;
    return stop(L, null, rateLimited ? 'rate_limited' : 'failed_at_first_stage', detail, null);
  }
  const mid = bisectionPoint(L, profile, history, status, bestPass, fail);
  if (mid !== null) return L.run(mid, 'bisect');
  const held = L.unit === 'rate' ? `${bestPass} req/s` : `${bestPass}`;
  const failed = L.unit === 'rate' ? `${fail} req/s` : `${fail}`;
  const detail = rateLimited
    ? `at ${L.at(fail)} most failures were HTTP 429: the capacity found is the endpoint's rate limit, not the engine's`
    : `the SLO held at ${held} and failed (confirmed) at ${failed}`;
  return stop(L, bestPass, rateLimited ? 'rate_limited' : 'knee_found', detail, [bestPass, fail]);
}

function bisectionPoint(
  L: Levels,
  profile: DecideInput['profile'],
  history: readonly StageResult[],
  status: ReadonlyMap<number, LevelStatus>,
  bestPass: number,
  minFail: number,
): number | null {
  if (!profile.verdict.bisect) return null;
  // The resolution comes from the coarse bracket the ramp found, not from the shrinking bisection bracket.
  const ramp = history.filter((s) => s.kind === 'ramp').map((s) => stageLevel(s.summary));
  const rampFails = ramp.filter((c) => status.get(c) === 'FAIL');
  const coarseHigh = rampFails.length > 0 ? Math.min(...rampFails) : minFail;
  const rampPasses = ramp.filter((c) => status.get(c) === 'PASS' && c < coarseHigh);
  const coarseLow = rampPasses.length > 0 ? Math.max(...rampPasses) : bestPass;
  const auto = L.unit === 'rate' ? autoRateResolution(coarseHigh) : autoResolution(coarseHigh - coarseLow);
  const resolution = profile.verdict.bisectResolution ?? auto;
  if (minFail - bestPass <= resolution) return null;
  const mid = L.mid(bestPass, minFail);
  const tested = new Set(history.map((s) => stageLevel(s.summary)));
  return !tested.has(mid) && mid > bestPass && mid < minFail ? mid : null;
}

function stop(
  L: Levels,
  level: number | null,
  stopReason: Capacity['stopReason'],
  stopDetail: string,
  bracket: [number, number] | null,
): NextStep {
  const named = L.unit === 'rate' ? { concurrency: null, rate: level } : { concurrency: level };
  return { kind: 'stop', capacity: { ...named, stopReason, stopDetail, bracket } };
}
