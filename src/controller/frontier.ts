// Pure: the SLO frontier of a recorded run. Each latency rule is re-judged at each tier's threshold on the
// run's own stages (the same judge, the same confidence intervals), and each tier gets its capacity.
import type { SloFrontier, SloTier } from '../model/frontier.ts';
import type { RequestRecord } from '../model/record.ts';
import type { StageMeta, StageResult } from '../model/verdict.ts';
import { DEFAULTS } from '../profile/keys.ts';
import type { Profile } from '../profile/types.ts';
import type { SloRule } from '../slo/types.ts';
import { formatDuration } from '../util/units.ts';
import { recordsByStage, recordsOf, windowsOf, type StageLine } from './fold.ts';
import { healthLimits, judgeStage } from './judge.ts';

type LatencyRule = Extract<SloRule, { kind: 'latency' }>;
interface RecordedStage {
  meta: StageMeta;
  records: RequestRecord[];
}
type TierJudge = Pick<Profile, 'slo' | 'verdict'>;

/** Every latency rule at every tier factor of `report.tiers`; empty when the profile has no latency rule. */
export function sloFrontier(
  profile: Profile,
  lines: readonly StageLine[],
  records: readonly RequestRecord[],
): SloFrontier {
  const factors = profile.report.tiers ?? DEFAULTS.report.tiers;
  if (factors.length === 0) return { factors: [], rules: [] };
  const byStage = recordsByStage(records);
  const stages: RecordedStage[] = lines.flatMap((line) =>
    line.type === 'stage' ? [{ meta: { ...line, windows: windowsOf(line) }, records: recordsOf(line, byStage) }] : [],
  );
  // The generator's health is a fact of the run: its limit stays the run's own whatever a tier's threshold.
  const verdict = { ...profile.verdict, maxEventLoopDelayMs: healthLimits(profile).eventLoopDelayP99Ms };
  const rules = profile.slo.flatMap((rule, ruleIndex) =>
    rule.kind !== 'latency'
      ? []
      : [
          {
            rule: rule.text,
            ruleIndex,
            metric: rule.metric,
            stat: rule.stat,
            thresholdMs: rule.thresholdMs,
            tiers: factors.map((factor) => judgeTier({ slo: profile.slo, verdict }, ruleIndex, factor, stages)),
          },
        ],
  );
  return { factors: [...factors], rules };
}

/** The rule's text with another threshold, e.g. "p95(ttft) < 50ms". */
export function tierRuleText(rule: LatencyRule, thresholdMs: number): string {
  return `${rule.stat}(${rule.metric}) ${rule.op} ${formatDuration(thresholdMs)}`;
}

function judgeTier(judge: TierJudge, ruleIndex: number, factor: number, stages: readonly RecordedStage[]): SloTier {
  const rule = judge.slo[ruleIndex] as LatencyRule;
  const thresholdMs = rule.thresholdMs * factor;
  const text = tierRuleText(rule, thresholdMs);
  const slo = judge.slo.map((r, i) => (i === ruleIndex ? { ...rule, thresholdMs, text } : r));
  // No stage can be extended now: an interval that cannot decide falls back to its point estimate (low confidence).
  const judged = stages.map((s, position) => {
    const result = judgeStage({ slo, verdict: judge.verdict }, s.records, s.meta, true);
    // summary.json numbers stages by their place in the run: a tier names its stage the same way.
    return { ...result, summary: { ...result.summary, index: position } };
  });
  return { factor, thresholdMs, rule: text, ...tierCapacity(judged.filter((s) => !s.partial)) };
}

/**
 * The highest tested level whose stage passes, with every lower tested level passing. The last judgment at a
 * level counts (a confirmation re-run replaces the first run), as in `decide`.
 */
export function tierCapacity(judged: readonly StageResult[]): Omit<SloTier, 'factor' | 'thresholdMs' | 'rule'> {
  const last = new Map<number, StageResult>();
  for (const s of judged) last.set(s.summary.concurrency, s);
  let concurrency: number | null = null;
  let stage: StageResult | null = null;
  for (const level of [...last.keys()].sort((a, b) => a - b)) {
    const s = last.get(level)!;
    if (s.verdict === 'PASS') {
      concurrency = level;
      stage = s;
    } else if (s.verdict === 'INVALID') {
      return { concurrency, range: 'above', bracket: null, invalidAbove: level, stage, firstFail: null };
    } else {
      const below = concurrency === null;
      return {
        concurrency,
        range: below ? 'below' : 'within',
        bracket: below ? null : [concurrency!, level],
        invalidAbove: null,
        stage,
        firstFail: below ? s : null,
      };
    }
  }
  return { concurrency, range: 'above', bracket: null, invalidAbove: null, stage, firstFail: null };
}
