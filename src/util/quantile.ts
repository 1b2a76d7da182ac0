// The one percentile definition of the tool: linear interpolation between order statistics (R/numpy type 7),
// the same as simple-statistics' quantileSorted that the reports use, so live figures and reports agree.

/** The p-quantile (0 ≤ p ≤ 1) of a sample sorted ascending; null for an empty sample. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  if (!(p >= 0 && p <= 1)) throw new Error(`quantile ${p} is not between 0 and 1`);
  const idx = (n - 1) * p;
  const lower = Math.floor(idx);
  const upper = Math.ceil(idx);
  const lo = sorted[lower]!;
  return lower === upper ? lo : lo + (idx - lower) * (sorted[upper]! - lo);
}
