// Goodput's per-request limits when the profile sets none: from the latency rules' thresholds (docs/profile.md, "goodput").
import type { GoodputLimits } from '../model/summary.ts';
import type { SloRule } from './types.ts';

/**
 * For TTFT, TPOT and E2E: the loosest upper bound (`<` or `<=`) a latency rule sets on that metric, whatever its
 * statistic (a p50 bound is tighter than what one request of the tail may take); null without such a rule.
 */
export function goodputFromRules(rules: readonly SloRule[]): GoodputLimits {
  const bound = (metric: 'ttft' | 'tpot' | 'e2e'): number | null => {
    const xs = rules.flatMap((r) =>
      r.kind === 'latency' && r.metric === metric && (r.op === '<' || r.op === '<=') ? [r.thresholdMs] : [],
    );
    return xs.length > 0 ? Math.max(...xs) : null;
  };
  return { ttftMs: bound('ttft'), tpotMs: bound('tpot'), e2eMs: bound('e2e') };
}
