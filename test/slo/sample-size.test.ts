// How many samples would decide an undecided rule: the sizes the README quotes, and that a stage of that size
// does decide it (the same evaluateRules the judge uses).
import { describe, expect, it } from 'vitest';
import { proportionInterval, quantileInterval } from '../../src/stats/confidence.ts';
import { meanSamples, percentileSamples, rateSamples } from '../../src/slo/sample-size.ts';

describe('samples to decide a rule', () => {
  it('a p99 below its threshold in every sample needs 368 samples at 95% (its upper end is infinite before)', () => {
    expect(percentileSamples(1, 0.99, 0.95, true)).toBe(368);
    expect(percentileSamples(1, 0.95, 0.95, true)).toBe(72);
    expect(percentileSamples(1, 0.9, 0.95, true)).toBe(36);
    const sorted = (n: number) => Array.from({ length: n }, (_, i) => 10 + i / n);
    expect(quantileInterval(sorted(367), 0.99, 0.95)[1]).toBe(Infinity);
    expect(quantileInterval(sorted(368), 0.99, 0.95)[1]).toBeLessThan(20);
  });

  it('a p99 close to its threshold needs more, exactly as many as make the interval decide', () => {
    const at = (n: number) => Array.from({ length: n }, (_, i) => (i < Math.floor(0.996 * n) ? 50 : 200));
    // 99.6 % of the samples below 100 ms: the normal approximation says ~1060, the binomial ranks a few hundred more.
    const n = percentileSamples(0.996, 0.99, 0.95, true)!;
    expect(n).toBeGreaterThan(1000);
    expect(n).toBeLessThan(2000);
    expect(quantileInterval(at(n), 0.99, 0.95)[1]).toBeLessThan(100);
    expect(quantileInterval(at(n - 1), 0.99, 0.95)[1]).toBeGreaterThan(100);
    // A p99 well above the threshold: its lower end comes up after a handful of samples.
    expect(percentileSamples(0.9, 0.99, 0.95, false)).toBeLessThan(100);
    expect(percentileSamples(0.99, 0.99, 0.95, true)).toBeNull();
  });

  it('a success rate of 100% against ">= 99%" needs 381 requests (README); the Wilson interval then decides', () => {
    expect(rateSamples(1, 0.99, '>=', 0.95)).toBe(381);
    expect(proportionInterval(381, 381, 0.95)[0]).toBeGreaterThanOrEqual(0.99);
    expect(proportionInterval(380, 380, 0.95)[0]).toBeLessThan(0.99);
    expect(rateSamples(0.99, 0.99, '>=', 0.95)).toBeNull();
  });

  it('a mean: the half-width shrinks as 1/√n', () => {
    expect(meanSamples(100, 20, 10)).toBe(400);
    expect(meanSamples(100, 20, 0)).toBeNull();
  });
});
