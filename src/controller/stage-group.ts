// Pure: the attempts of one stage pooled into what is judged and saved (an INCONCLUSIVE stage gets more windows).
import type { RequestRecord } from '../model/record.ts';
import type { StageRunResult } from '../model/stage.ts';
import type { StageMeta, StageResult } from '../model/verdict.ts';
import { summarizeOverhead } from './ttft-overhead.ts';

export interface StageGroup {
  kind: StageResult['kind'];
  windows: StageMeta['windows'];
  records: RequestRecord[];
  stoppedBy: StageMeta['stoppedBy'];
  eventLoopDelayMaxMs: number;
  cpuPercentSum: number;
  /** The executors' own problems over every attempt (a lost agent). */
  generatorProblems: string[];
  /** TTFT-overhead samples pooled like the records; null once an attempt's ground truth could not be read. */
  overheadSamples: number[] | null;
}

/** Starts a group (`group` null) or adds an extension to it. */
export function poolAttempt(
  group: StageGroup | null,
  kind: StageResult['kind'],
  attempt: StageRunResult,
  overhead: number[] | null,
): StageGroup {
  const base: StageGroup = group ?? {
    kind,
    windows: [],
    records: [],
    stoppedBy: null,
    eventLoopDelayMaxMs: 0,
    cpuPercentSum: 0,
    generatorProblems: [],
    overheadSamples: overhead === null ? null : [],
  };
  return {
    kind: base.kind,
    windows: [...base.windows, attempt.window],
    records: base.records.concat(attempt.records),
    stoppedBy: attempt.stoppedBy,
    eventLoopDelayMaxMs: Math.max(base.eventLoopDelayMaxMs, attempt.health.eventLoopDelayP99Ms),
    cpuPercentSum: base.cpuPercentSum + attempt.health.cpuPercent,
    generatorProblems: [...base.generatorProblems, ...(attempt.health.problems ?? [])],
    overheadSamples: base.overheadSamples === null || overhead === null ? null : base.overheadSamples.concat(overhead),
  };
}

export function groupMeta(group: StageGroup, final: boolean): StageMeta {
  return {
    window: group.windows[0]!,
    windows: [...group.windows],
    kind: group.kind,
    final,
    stoppedBy: group.stoppedBy,
    eventLoopDelayP99Ms: group.eventLoopDelayMaxMs,
    cpuPercent: group.cpuPercentSum / group.windows.length,
    ...(group.generatorProblems.length > 0 ? { generatorProblems: [...group.generatorProblems] } : {}),
    ttftOverhead: group.overheadSamples === null ? null : summarizeOverhead(group.overheadSamples),
  };
}
