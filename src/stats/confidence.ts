// Distribution-free confidence intervals (pure). Percentiles: order statistics with binomial
// ranks; proportions: Wilson score interval. Used to decide PASS / FAIL / INCONCLUSIVE.

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [
    -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
    2.506628277459239,
  ];
  const b = [
    -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
  ];
  const c = [
    -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** log Γ(x) by the Lanczos approximation (g = 7, n = 9). */
function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = g[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += g[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Binomial CDF values P(B ≤ k) for k = 0..n, B ~ Binomial(n, p). */
export function binomialCdf(n: number, p: number): Float64Array {
  const cdf = new Float64Array(n + 1);
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const lgN = logGamma(n + 1);
  let acc = 0;
  for (let k = 0; k <= n; k++) {
    acc += Math.exp(lgN - logGamma(k + 1) - logGamma(n - k + 1) + k * lp + (n - k) * lq);
    cdf[k] = Math.min(1, acc);
  }
  return cdf;
}

/**
 * Ranks (1-based) of the order statistics bounding the q-quantile with confidence `level`:
 * P(x(lower) ≤ Q_q ≤ x(upper)) ≥ level; rank 0 means −∞ and n+1 means +∞ (too few samples to bound).
 */
export function quantileRanks(n: number, q: number, level: number): { lower: number; upper: number } {
  if (n === 0) return { lower: 0, upper: 1 };
  const alpha = (1 - level) / 2;
  const cdf = binomialCdf(n, q);
  // x(l) > Q_q happens when fewer than l samples fall at or below Q_q: P(B ≤ l−1) = F(l−1) ≤ α.
  let lower = 0;
  for (let l = 1; l <= n && cdf[l - 1]! <= alpha; l++) lower = l;
  // x(u) ≥ Q_q holds when fewer than u samples fall below Q_q: P(B ≤ u−1) = F(u−1).
  let upper = n + 1;
  for (let u = 1; u <= n; u++) {
    if (cdf[u - 1]! >= 1 - alpha) {
      upper = u;
      break;
    }
  }
  return { lower, upper };
}

/** Confidence interval of the q-quantile of a SORTED sample; ±Infinity where the data cannot bound it. */
export function quantileInterval(sorted: readonly number[], q: number, level: number): [number, number] {
  const { lower, upper } = quantileRanks(sorted.length, q, level);
  return [lower >= 1 ? sorted[lower - 1]! : -Infinity, upper <= sorted.length ? sorted[upper - 1]! : Infinity];
}

/** Wilson score interval of a proportion k/n. */
export function proportionInterval(k: number, n: number, level: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Normal-approximation interval of a mean. */
export function meanInterval(values: readonly number[], level: number): [number, number] {
  const n = values.length;
  if (n < 2) return [-Infinity, Infinity];
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  const se = Math.sqrt(ss / (n - 1) / n);
  const z = normalQuantile(1 - (1 - level) / 2);
  return [mean - z * se, mean + z * se];
}

/**
 * Score interval of a Poisson rate from k events in `seconds` (k events/s): the roots of
 * (k − λt)² = z²·λt. It stays inside [0, ∞) and is sensible for small k (k = 0 gives [0, z²/t]).
 */
export function poissonRateInterval(k: number, seconds: number, level: number): [number, number] {
  if (!(seconds > 0)) return [0, Infinity];
  const z = normalQuantile(1 - (1 - level) / 2);
  const centre = k + (z * z) / 2;
  const half = z * Math.sqrt(k + (z * z) / 4);
  return [Math.max(0, centre - half) / seconds, (centre + half) / seconds];
}
