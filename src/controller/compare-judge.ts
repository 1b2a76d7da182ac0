// Pure: whether B is worse than A, judged on confidence intervals (README, "Comparing runs").
import type { CompareOutcome, Estimate } from '../model/compare.ts';

/**
 * `higher`: more is better (capacity, QPS), relative allowance. `lower`: less is better (latency), relative
 * allowance and an absolute tolerance. `lower_points`: less is better (error rate), allowance in points.
 */
export type Direction = 'higher' | 'lower' | 'lower_points';

/**
 * A regression needs all of B's interval beyond all of A's, by more than the allowed regression: for `higher`,
 * B's upper bound below A's lower bound × (1 − allowed); for `lower`, B's lower bound above A's upper bound plus
 * the larger of allowed × A's upper bound and the tolerance; for `lower_points`, above A's upper bound + allowed.
 * Disjoint intervals with a smaller gap are `worse_within_tolerance`; B's interval wholly better is `improvement`.
 */
export function judgeChange(
  direction: Direction,
  a: Estimate,
  b: Estimate,
  allowed: number,
  toleranceAbs = 0,
): CompareOutcome {
  if (a.interval === null || b.interval === null) return 'no_significant_change';
  const [aLo, aHi] = a.interval;
  const [bLo, bHi] = b.interval;
  if (direction === 'higher') {
    if (bHi < aLo * (1 - allowed)) return 'regression';
    if (bHi < aLo) return 'worse_within_tolerance';
    return bLo > aHi ? 'improvement' : 'no_significant_change';
  }
  const margin = direction === 'lower' ? Math.max(allowed * aHi, toleranceAbs) : allowed;
  if (bLo > aHi + margin) return 'regression';
  if (bLo > aHi) return 'worse_within_tolerance';
  return bHi < aLo ? 'improvement' : 'no_significant_change';
}

/** B relative to A: (B − A) / A, or B − A for `lower_points`; null when undefined. */
export function changeOf(direction: Direction, a: number | null, b: number | null): number | null {
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  if (direction === 'lower_points') return b - a;
  return a === 0 ? null : (b - a) / a;
}
