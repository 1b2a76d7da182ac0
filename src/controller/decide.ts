// Pure: "what runs next" from the profile and the history of judged stages (DESIGN.md §4).
// Ramp through the planned levels; confirm a FAIL before it ends the ramp; bisect the bracket
// [last PASS, first confirmed FAIL] down to the resolution; stop with the capacity and why.
import type { Profile } from '../profile/types.ts';
import type { Capacity, StageResult } from '../model/verdict.ts';

export type NextStep =
  { kind: 'run'; concurrency: number; why: StageResult['kind'] } | { kind: 'stop'; capacity: Capacity };

export interface DecideInput {
  profile: {
    stop: Pick<Profile['stop'], 'onBreach'>;
    verdict: Pick<Profile['verdict'], 'confirmFailures' | 'bisect' | 'bisectResolution'>;
  };
  levels: readonly number[];
  history: readonly StageResult[];
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
    // INCONCLUSIVE never reaches decide: the runner extends the stage or falls back to the point estimate.
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

export function decide({ profile, levels, history }: DecideInput): NextStep {
  const first = levels[0];
  if (first === undefined) throw new Error('no concurrency levels planned');
  if (history.length === 0) return { kind: 'run', concurrency: first, why: 'ramp' };
  const { confirmFailures } = profile.verdict;
  const last = history[history.length - 1]!;
  const status = levelStatuses(history, confirmFailures);
  const lastStatus = status.get(last.summary.concurrency);
  if (lastStatus === 'UNCONFIRMED_FAIL' || lastStatus === 'UNCONFIRMED_INVALID')
    return { kind: 'run', concurrency: last.summary.concurrency, why: 'confirm' };

  const passes = [...status].filter(([, s]) => s === 'PASS').map(([c]) => c);
  const fails = [...status].filter(([, s]) => s === 'FAIL').map(([c]) => c);
  const invalid = [...status].filter(([, s]) => s === 'INVALID').map(([c]) => c);
  const minFail = fails.length > 0 ? Math.min(...fails) : null;
  const minInvalid = invalid.length > 0 ? Math.min(...invalid) : null;
  const ceiling = Math.min(minFail ?? Infinity, minInvalid ?? Infinity);
  const below = passes.filter((c) => c < ceiling);
  const bestPass = below.length > 0 ? Math.max(...below) : null;

  if (minInvalid !== null && (minFail === null || minInvalid < minFail)) {
    return stop(
      bestPass,
      'generator_limit',
      `the load generator could not hold ${minInvalid} concurrent requests (twice), so higher levels were not tested: run with more workers (workers: N), on a bigger or less busy machine, or closer to the target`,
      null,
    );
  }
  if (last.aborted && lastStatus === 'FAIL') {
    if (dominantlyRateLimited(last)) {
      return stop(
        bestPass,
        'rate_limited',
        `at concurrency ${last.summary.concurrency} most failures were HTTP 429 (the stage was stopped early): the capacity found is the endpoint's rate limit, not the engine's`,
        bestPass === null ? null : [bestPass, last.summary.concurrency],
      );
    }
    if (dominantlyUnreachable(last)) {
      return stop(
        bestPass,
        'target_unreachable',
        `the target stopped accepting connections during the stage at concurrency ${last.summary.concurrency}`,
        null,
      );
    }
    return stop(
      bestPass,
      'error_rate_breaker',
      `stage at concurrency ${last.summary.concurrency} exceeded the max error rate and was stopped early`,
      bestPass === null ? null : [bestPass, last.summary.concurrency],
    );
  }

  const tested = new Set(history.map((s) => s.summary.concurrency));
  const maxTested = Math.max(...tested);
  const nextRamp = levels.find((c) => c > maxTested && !tested.has(c));
  if (minFail === null || !profile.stop.onBreach) {
    if (nextRamp !== undefined) return { kind: 'run', concurrency: nextRamp, why: 'ramp' };
    if (minFail === null) {
      return stop(
        bestPass,
        'max_reached',
        `every level up to the maximum ${maxTested} passed: capacity is at least ${maxTested}`,
        null,
      );
    }
  }
  // A confirmed FAIL exists: bisect the bracket, then stop at the knee.
  const failStage = [...history].reverse().find((s) => s.summary.concurrency === minFail);
  const rateLimited = dominantlyRateLimited(failStage);
  if (bestPass === null) {
    return stop(
      null,
      rateLimited ? 'rate_limited' : 'failed_at_first_stage',
      `the SLO already failed at concurrency ${minFail}, the lowest level tested`,
      null,
    );
  }
  if (profile.verdict.bisect) {
    // The resolution comes from the coarse bracket the ramp found, not from the shrinking bisection bracket.
    const rampFails = history
      .filter((s) => s.kind === 'ramp' && status.get(s.summary.concurrency) === 'FAIL')
      .map((s) => s.summary.concurrency);
    const coarseHigh = rampFails.length > 0 ? Math.min(...rampFails) : minFail!;
    const rampPasses = history.filter(
      (s) => s.kind === 'ramp' && status.get(s.summary.concurrency) === 'PASS' && s.summary.concurrency < coarseHigh,
    );
    const coarseLow = rampPasses.length > 0 ? Math.max(...rampPasses.map((s) => s.summary.concurrency)) : bestPass;
    const resolution = profile.verdict.bisectResolution ?? autoResolution(coarseHigh - coarseLow);
    if (minFail! - bestPass > resolution) {
      const mid = Math.floor((bestPass + minFail!) / 2);
      if (!tested.has(mid) && mid > bestPass && mid < minFail!) return { kind: 'run', concurrency: mid, why: 'bisect' };
    }
  }
  return stop(
    bestPass,
    rateLimited ? 'rate_limited' : 'knee_found',
    rateLimited
      ? `at concurrency ${minFail} most failures were HTTP 429: the capacity found is the endpoint's rate limit, not the engine's`
      : `the SLO held at ${bestPass} and failed (confirmed) at ${minFail}`,
    [bestPass, minFail!],
  );
}

function stop(
  concurrency: number | null,
  stopReason: Capacity['stopReason'],
  stopDetail: string,
  bracket: [number, number] | null,
): NextStep {
  return { kind: 'stop', capacity: { concurrency, stopReason, stopDetail, bracket } };
}
