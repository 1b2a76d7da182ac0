// `find-capacity report <run-dir>`: rebuild summary.json (and report.html) from requests.jsonl,
// stages.jsonl and the saved profile, without sending any load. Same pure judge ⇒ same numbers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../errors.ts';
import { readJsonl, writeFileAtomicSync } from '../io/jsonl.ts';
import type { RequestRecord } from '../model/record.ts';
import type { Profile } from '../profile/types.ts';
import { planLevels } from '../profile/plan.ts';
import { decide } from './decide.ts';
import { judgeStage } from './judge.ts';
import type { StageMeta } from '../model/verdict.ts';
import { provisionalCapacity } from './run.ts';
import type { Capacity, StageResult } from '../model/verdict.ts';
import { buildSummary, environmentMeta, type StageWithWindow, type SummaryJson } from '../report/summary.ts';
import { renderReportHtml } from '../report/html.ts';
import { TOOL_VERSION } from '../version.ts';

const DECIDED: readonly string[] = [
  'knee_found',
  'max_reached',
  'failed_at_first_stage',
  'rate_limited',
  'error_rate_breaker',
  'generator_limit',
  'target_unreachable',
];

type StageLine =
  ({ type: 'stage' } & StageMeta) | { type: 'end'; stop_reason: Capacity['stopReason']; stop_detail: string };

export interface Rebuilt {
  summary: SummaryJson;
  profile: Profile;
  /** Lines of requests.jsonl / stages.jsonl that could not be parsed (a torn last line after a crash). */
  skippedLines: number;
}

export function rebuildSummary(runDir: string): Rebuilt {
  const need = (f: string) => {
    const p = join(runDir, f);
    if (!existsSync(p)) throw new ToolError('invalid_arguments', `${runDir} is not a run directory: ${f} is missing`);
    return p;
  };
  const profile = JSON.parse(readFileSync(need('profile.json'), 'utf8')) as Profile;
  const req = readJsonl<RequestRecord>(need('requests.jsonl'));
  const st = existsSync(join(runDir, 'stages.jsonl'))
    ? readJsonl<StageLine>(join(runDir, 'stages.jsonl'))
    : { rows: [], skipped: 0 };
  const byStage = new Map<number, RequestRecord[]>();
  for (const r of req.rows) {
    const list = byStage.get(r.stage) ?? [];
    list.push(r);
    byStage.set(r.stage, list);
  }
  const history: StageResult[] = [];
  const staged: StageWithWindow[] = [];
  let end: Extract<StageLine, { type: 'end' }> | null = null;
  for (const line of st.rows) {
    if (line.type === 'end') {
      end = line;
      continue;
    }
    const windows = line.windows && line.windows.length > 0 ? line.windows : [line.window];
    const recs = windows.flatMap((w) => byStage.get(w.index) ?? []);
    const result = judgeStage(profile, recs, { ...line, windows }, line.final ?? true);
    if (!result.partial) history.push(result);
    staged.push({
      result,
      windowStartMs: line.window.startMs,
      windowEndMs: windows[windows.length - 1]!.endMs,
      stoppedBy: line.stoppedBy,
      windows,
    });
  }
  const levels = planLevels(profile.ramp.concurrency);
  const step = history.length > 0 ? decide({ profile, levels, history }) : null;
  let capacity: Capacity;
  if (end && !DECIDED.includes(end.stop_reason)) {
    // Interrupted or stopped by a safety limit: the stored reason, the capacity of the judged stages.
    capacity = {
      ...provisionalCapacity(history, levels, profile, end.stop_reason, end.stop_detail),
      stopDetail: end.stop_detail,
    };
  } else if (step?.kind === 'stop') {
    capacity = step.capacity;
  } else {
    capacity = provisionalCapacity(
      history,
      levels,
      profile,
      'interrupted',
      'the run ended without finishing (killed or crashed); rebuilt from the records it left',
    );
  }
  const origPath = join(runDir, 'summary.json');
  const orig = readOldSummary(origPath);
  const summary = buildSummary(profile, staged, capacity, {
    toolVersion: orig?.tool_version ?? TOOL_VERSION,
    startedAt: orig?.started_at ?? new Date(0).toISOString(),
    finishedAt: orig?.finished_at ?? new Date(0).toISOString(),
    durationS: orig?.duration_s ?? 0,
    baseUrl: orig?.target?.base_url ?? profile.target.baseUrl ?? 'unknown',
    clockOriginEpochMs: orig?.clock_origin_epoch_ms ?? 0,
    interrupted: capacity.stopReason === 'interrupted',
    ...(orig?.environment
      ? { node: orig.environment.node, cpus: orig.environment.cpus, platform: orig.environment.platform }
      : environmentMeta()),
  });
  return { summary, profile, skippedLines: req.skipped + st.skipped };
}

/** The run's own summary.json for its dates and environment; a torn or missing one (killed run) is ignored. */
function readOldSummary(path: string): Partial<SummaryJson> | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Partial<SummaryJson>;
  } catch {
    return null;
  }
}

export function writeRebuilt(runDir: string, r: Rebuilt): void {
  writeFileAtomicSync(join(runDir, 'summary.json'), JSON.stringify(r.summary, null, 2) + '\n');
  writeFileAtomicSync(join(runDir, 'report.html'), renderReportHtml(r.summary));
}
