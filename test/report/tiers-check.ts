// Shared check of the report tests: a summary's SLA tiers agree with its own stages.
import { expect } from 'vitest';
import type { SummaryJson } from '../../src/report/summary.ts';

/**
 * Every tier's capacity is a tested level whose stage PASSED the tier's rule (its measured value meets the
 * threshold, or it was decided with low confidence); its bracket's upper end is a tested level; a tier below the
 * tested range failed at the lowest tested level; the 1× tier is the run's capacity. Returns the tier count.
 */
export function expectTiersConsistent(s: SummaryJson): number {
  const frontier = s.slo_frontier!;
  expect(frontier).not.toBeNull();
  const judged = s.stages.filter((st) => !st.partial && st.verdict !== 'INVALID');
  const tested = [...new Set(judged.map((st) => st.concurrency))].sort((a, b) => a - b);
  let tiers = 0;
  for (const rule of frontier.rules) {
    for (const t of rule.tiers) {
      tiers++;
      const where = `${t.rule} (${t.factor}×)`;
      expect(t.threshold_ms, where).toBeCloseTo(rule.threshold_ms! * t.factor, 6);
      if (t.range === 'below') {
        expect(t.concurrency, where).toBeNull();
        expect(t.first_fail?.concurrency, where).toBe(tested[0]);
        continue;
      }
      expect(tested, where).toContain(t.concurrency);
      const stage = s.stages.find((st) => st.index === t.stage)!;
      expect(stage.concurrency, where).toBe(t.concurrency);
      expect(t.qps, where).toBe(stage.qps);
      expect(t.output_tokens_per_s, where).toBe(stage.output_tokens_per_s);
      if (!t.low_confidence) expect(t.interval_ms![1]!, where).toBeLessThan(t.threshold_ms!);
      else expect(t.value_ms!, where).toBeLessThan(t.threshold_ms!);
      if (t.range === 'within') expect(tested, where).toContain(t.bracket![1]);
      else if (t.invalid_above === null) expect(t.concurrency, where).toBe(tested[tested.length - 1]);
      if (t.factor === 1) expect(t.concurrency, where).toBe(s.capacity.concurrency);
    }
  }
  return tiers;
}
