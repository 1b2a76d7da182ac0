// `find-capacity report <run-dir>`: rebuild summary.json (and report.html) from requests.jsonl,
// stages.jsonl and the saved profile, without sending any load. Same fold as the live run ⇒ same numbers.
import type { AgentSummary } from '../model/agents.ts';
import { rampLevels } from '../profile/plan.ts';
import type { Profile } from '../profile/types.ts';
import { buildSummary, environmentMeta, type SummaryJson } from '../report/summary.ts';
import { TOOL_VERSION } from '../version.ts';
import { foldRun } from './fold.ts';
import { sloFrontier } from './frontier.ts';
import { readRunDir } from './run-dir.ts';
import { RunFiles } from './run-files.ts';

export interface Rebuilt {
  summary: SummaryJson;
  profile: Profile;
  /** Lines of requests.jsonl / stages.jsonl that could not be parsed (a torn last line after a crash). */
  skippedLines: number;
}

export function rebuildSummary(runDir: string): Rebuilt {
  const run = readRunDir(runDir);
  const { profile, lines, records, serverMetrics } = run;
  const levels = rampLevels(profile.ramp);
  const { state, capacity } = foldRun(profile, lines, records, levels, serverMetrics.samples);
  const orig = run.summary;
  const meta = {
    toolVersion: orig?.tool_version ?? TOOL_VERSION,
    startedAt: orig?.started_at ?? new Date(0).toISOString(),
    finishedAt: orig?.finished_at ?? new Date(0).toISOString(),
    durationS: orig?.duration_s ?? 0,
    baseUrl: orig?.target?.base_url ?? profile.target.baseUrl ?? 'unknown',
    clockOriginEpochMs: orig?.clock_origin_epoch_ms ?? 0,
    interrupted: capacity.stopReason === 'interrupted',
    ...(orig?.environment
      ? {
          node: orig.environment.node,
          cpus: orig.environment.cpus,
          cpusAvailable: orig.environment.cpus_available ?? undefined,
          gc: orig.environment.gc ?? undefined,
          platform: orig.environment.platform,
        }
      : environmentMeta()),
    serverMetrics: serverMetrics.source,
  };
  const summary = buildSummary(profile, state.staged, capacity, meta, sloFrontier(profile, lines, records));
  // The agents' clock estimates were measured live; no file holds them but the run's own summary.
  const agents = (orig as { agents?: AgentSummary[] } | null)?.agents;
  const withAgents: SummaryJson = agents ? Object.assign(summary, { agents }) : summary;
  return { summary: withAgents, profile, skippedLines: run.skippedLines };
}

export function writeRebuilt(runDir: string, r: Rebuilt): void {
  new RunFiles(runDir).writeResults(r.summary);
}
