// Pure: how many samples a rule would need for its confidence interval to decide it, had the stage gone on as it
// went (the same fraction below the threshold, the same success rate, the same spread). For a verdict that fell back
// to its point estimate: "p99(ttft) needs about 420 requests", not just "too few samples".
import { binomialCdf, normalQuantile, proportionInterval } from '../stats/confidence.ts';
import type { Comparator } from './types.ts';

const LARGEST = 1e9;
const EXACT_UP_TO = 100_000;

/**
 * A percentile: the smallest n at which the q-quantile's interval, with the same fraction `below` of the samples
 * under the threshold, lies on one side of it. `upperEnd`: most samples are below, so the interval's upper end must
 * come down (368 samples for a p99 at 95 % when all are below); else its lower end must come up. Exact (binomial
 * ranks, as the judge computes them) up to 100,000 samples, beyond that the normal approximation.
 */
export function percentileSamples(below: number, q: number, level: number, upperEnd: boolean): number | null {
  const gap = Math.abs(below - q);
  if (gap === 0) return null;
  const z = normalQuantile(1 - (1 - level) / 2);
  const approx = Math.ceil((z * z * q * (1 - q)) / (gap * gap));
  if (approx > EXACT_UP_TO) return Math.min(LARGEST, approx);
  const alpha = (1 - level) / 2;
  const decides = (n: number) => {
    const cdf = binomialCdf(n, q);
    if (upperEnd) {
      const k = Math.floor(below * n);
      return k >= 1 && cdf[k - 1]! >= 1 - alpha;
    }
    const k = Math.ceil(below * n);
    return k < n && cdf[k]! <= alpha;
  };
  return smallest(decides, 2 * approx + 1000);
}

/** A proportion: the smallest n at which the Wilson interval of the same rate `p` lies on one side of `threshold`. */
export function rateSamples(p: number, threshold: number, op: Comparator, level: number): number | null {
  if (p === threshold) return null;
  return smallest((n) => {
    const [lo, hi] = proportionInterval(p * n, n, level);
    return sameSide(lo, hi, op, threshold);
  }, LARGEST);
}

/** The smallest n ≤ `limit` for which `decides` holds (it holds from some n on), by doubling then bisection. */
function smallest(decides: (n: number) => boolean, limit: number): number | null {
  let high = 1;
  while (!decides(high)) {
    if (high >= limit) return null;
    high = Math.min(limit, high * 2);
  }
  let low = Math.floor(high / 2);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (decides(mid)) high = mid;
    else low = mid;
  }
  return high;
}

/** A mean: its interval's half-width shrinks as 1/√n, so n·(half-width / distance to the threshold)² decide it. */
export function meanSamples(n: number, halfWidth: number, gap: number): number | null {
  if (gap === 0 || !Number.isFinite(halfWidth)) return null;
  return Math.min(LARGEST, Math.max(n + 1, Math.ceil(n * (halfWidth / gap) ** 2)));
}

function sameSide(lo: number, hi: number, op: Comparator, t: number): boolean {
  const pass = (v: number) => (op === '<' ? v < t : op === '<=' ? v <= t : op === '>' ? v > t : v >= t);
  return pass(lo) === pass(hi);
}
