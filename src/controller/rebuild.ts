// `find-capacity report <run-dir>`: rebuild summary.json (and report.html) from requests.jsonl,
// stages.jsonl and the saved profile, without sending any load. Same fold as the live run ⇒ same numbers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../errors.ts';
import { readJsonl } from '../io/jsonl.ts';
import type { RequestRecord } from '../model/record.ts';
import { rampLevels } from '../profile/plan.ts';
import type { Profile } from '../profile/types.ts';
import { buildSummary, environmentMeta, type SummaryJson } from '../report/summary.ts';
import { TOOL_VERSION } from '../version.ts';
import { foldRun, type StageLine } from './fold.ts';
import { RunFiles } from './run-files.ts';

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
  const stagesPath = join(runDir, 'stages.jsonl');
  const st = existsSync(stagesPath) ? readJsonl<StageLine>(stagesPath) : { rows: [], skipped: 0 };
  const { state, capacity } = foldRun(profile, st.rows, req.rows, rampLevels(profile.ramp));
  const orig = readOldSummary(join(runDir, 'summary.json'));
  const summary = buildSummary(profile, state.staged, capacity, {
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
  new RunFiles(runDir).writeResults(r.summary);
}
