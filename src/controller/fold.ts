// Pure: stage lines + records → history, capacity. The one fold behind a live run and `find-capacity report`.
import type { RequestRecord } from '../model/record.ts';
import type { Capacity, StageMeta, StageResult } from '../model/verdict.ts';
import { levelUnit } from '../profile/plan.ts';
import type { Profile } from '../profile/types.ts';
import type { StageWithWindow } from '../report/summary.ts';
import { decide, levelStatuses } from './decide.ts';
import { judgeStage } from './judge.ts';
import { stageRateLimit, stageServerMetrics, type FoldSample } from './server-fold.ts';

/** One line of stages.jsonl: a judged stage (its pooled windows), or the end of the run. */
export type StageLine =
  ({ type: 'stage' } & StageMeta) | { type: 'end'; stop_reason: Capacity['stopReason']; stop_detail: string };

export interface FoldState {
  /** Stages that decide the capacity (complete ones). */
  history: StageResult[];
  /** Every stage, for the report, partial ones included. */
  staged: StageWithWindow[];
}

/** Stop reasons that `decide` gives; any other (interrupt, safety limit) keeps the stored sentence. */
const DECIDED: readonly Capacity['stopReason'][] = [
  'knee_found',
  'max_reached',
  'failed_at_first_stage',
  'rate_limited',
  'error_rate_breaker',
  'generator_limit',
  'target_unreachable',
];

export const emptyFold = (): FoldState => ({ history: [], staged: [] });

/** The records of a stage line: those of each of its pooled windows. */
export function recordsOf(meta: StageMeta, byStage: ReadonlyMap<number, readonly RequestRecord[]>): RequestRecord[] {
  return windowsOf(meta).flatMap((w) => byStage.get(w.index) ?? []);
}

/** Records grouped by the index of the stage (attempt) they started in. */
export function recordsByStage(records: readonly RequestRecord[]): Map<number, RequestRecord[]> {
  const byStage = new Map<number, RequestRecord[]>();
  for (const r of records) {
    const list = byStage.get(r.stage) ?? [];
    list.push(r);
    byStage.set(r.stage, list);
  }
  return byStage;
}

export function windowsOf(meta: StageMeta): StageMeta['windows'] {
  return meta.windows && meta.windows.length > 0 ? meta.windows : [meta.window];
}

/** Judges one stage line and adds it: a stage cut short is shown but never decides the capacity. */
export function foldStage(
  state: FoldState,
  profile: Profile,
  meta: StageMeta,
  records: readonly RequestRecord[],
  /** The run's server-metrics samples so far (none when /metrics was not scraped). */
  samples: readonly FoldSample[] = [],
): { state: FoldState; result: StageResult } {
  const windows = windowsOf(meta);
  const result = judgeStage(profile, records, { ...meta, windows }, meta.final ?? true);
  const staged: StageWithWindow = {
    result,
    windowStartMs: meta.window.startMs,
    windowEndMs: windows[windows.length - 1]!.endMs,
    stoppedBy: meta.stoppedBy,
    windows,
    serverMetrics: stageServerMetrics(windows, samples),
    rateLimit: stageRateLimit(records),
  };
  const history = result.partial ? state.history : [...state.history, result];
  return { state: { history, staged: [...state.staged, staged] }, result };
}

/** The capacity implied by the stages judged so far, when the run stops before decide does. */
export function provisionalCapacity(
  history: readonly StageResult[],
  levels: readonly number[],
  profile: Profile,
  reason: Capacity['stopReason'],
  detail: string,
): Capacity {
  const unit = levelUnit(profile);
  const step = history.length > 0 ? decide({ profile, levels, history, unit }) : null;
  if (step?.kind === 'stop')
    return { ...step.capacity, stopReason: reason, stopDetail: `${detail}; ${step.capacity.stopDetail}` };
  const status = levelStatuses(history, profile.verdict.confirmFailures);
  const passes = [...status].filter(([, st]) => st === 'PASS').map(([c]) => c);
  // An unconfirmed FAIL or an INVALID level still caps what can be claimed.
  const fails = [...status].filter(([, st]) => st !== 'PASS').map(([c]) => c);
  const minFail = fails.length > 0 ? Math.min(...fails) : Infinity;
  const below = passes.filter((c) => c < minFail);
  const level = below.length > 0 ? Math.max(...below) : null;
  const named = unit === 'rate' ? { concurrency: null, rate: level } : { concurrency: level };
  // A run cut short says how far it got: never read as "the SLO was not met" (README, "Failure handling").
  const got =
    history.length === 0
      ? ' before any stage completed'
      : level === null
        ? ''
        : `; the last completed PASS was at ${unit === 'rate' ? `${level} req/s` : `concurrency ${level}`}`;
  return { ...named, stopReason: reason, stopDetail: `${detail}${got}`, bracket: null };
}

/** The capacity a run's end line stands for, recomputed from the history. */
export function capacityAtEnd(
  history: readonly StageResult[],
  levels: readonly number[],
  profile: Profile,
  end: Extract<StageLine, { type: 'end' }> | null,
): Capacity {
  if (end && !DECIDED.includes(end.stop_reason)) {
    const capacity = provisionalCapacity(history, levels, profile, end.stop_reason, end.stop_detail);
    return { ...capacity, stopDetail: end.stop_detail };
  }
  const step = history.length > 0 ? decide({ profile, levels, history, unit: levelUnit(profile) }) : null;
  if (step?.kind === 'stop') return step.capacity;
  const detail = 'the run ended without finishing (killed or crashed); rebuilt from the records it left';
  return provisionalCapacity(history, levels, profile, 'interrupted', detail);
}

/** Folds a whole run from its files' contents. */
export function foldRun(
  profile: Profile,
  lines: readonly StageLine[],
  records: readonly RequestRecord[],
  levels: readonly number[],
  samples: readonly FoldSample[] = [],
): { state: FoldState; capacity: Capacity } {
  const byStage = recordsByStage(records);
  let state = emptyFold();
  let end: Extract<StageLine, { type: 'end' }> | null = null;
  for (const line of lines) {
    if (line.type === 'end') end = line;
    else state = foldStage(state, profile, line, recordsOf(line, byStage), samples).state;
  }
  return { state, capacity: capacityAtEnd(state.history, levels, profile, end) };
}
