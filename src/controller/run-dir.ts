// Reads a run directory's files (profile.json, stages.jsonl, requests.jsonl, summary.json): for `report`,
// `compare` and the end of a live run. Only the files are used, so a directory copied from another machine works.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../errors.ts';
import { readJsonl } from '../io/jsonl.ts';
import type { RequestRecord } from '../model/record.ts';
import type { ServerMetricsLine, ServerMetricsSample, ServerMetricsSource } from '../model/server-metrics.ts';
import { profileFromJson } from '../profile/json.ts';
import type { Profile } from '../profile/types.ts';
import type { SummaryJson } from '../report/summary.ts';
import type { StageLine } from './fold.ts';
import { SERVER_METRICS_FILE } from './run-files.ts';

export interface RunRecords {
  lines: StageLine[];
  records: RequestRecord[];
  /** Lines that could not be parsed (a torn last line after a crash). */
  skippedLines: number;
}

export interface RunDir extends RunRecords {
  dir: string;
  profile: Profile;
  /** The run's own summary.json (dates, environment); null when missing or torn (a killed run). */
  summary: Partial<SummaryJson> | null;
  /** server-metrics.jsonl, when the server's /metrics was scraped: its source line and samples. */
  serverMetrics: { source: ServerMetricsSource | null; samples: ServerMetricsSample[] };
}

function required(dir: string, file: string): string {
  const p = join(dir, file);
  if (!existsSync(p)) throw new ToolError('invalid_arguments', `${dir} is not a run directory: ${file} is missing`);
  return p;
}

/** stages.jsonl and requests.jsonl; a run killed before its first stage ended has no stages.jsonl yet. */
export function readRunRecords(dir: string): RunRecords {
  const req = readJsonl<RequestRecord>(required(dir, 'requests.jsonl'));
  const stagesPath = join(dir, 'stages.jsonl');
  const st = existsSync(stagesPath) ? readJsonl<StageLine>(stagesPath) : { rows: [], skipped: 0 };
  return { lines: st.rows, records: req.rows, skippedLines: req.skipped + st.skipped };
}

export function readRunDir(dir: string): RunDir {
  const profile = profileFromJson(JSON.parse(readFileSync(required(dir, 'profile.json'), 'utf8')));
  const recorded = readRunRecords(dir);
  const server = readServerMetrics(join(dir, SERVER_METRICS_FILE));
  const skippedLines = recorded.skippedLines + server.skipped;
  const summary = readOldSummary(join(dir, 'summary.json'));
  return { dir, profile, ...recorded, skippedLines, summary, serverMetrics: server };
}

function readServerMetrics(path: string) {
  if (!existsSync(path)) return { source: null, samples: [], skipped: 0 };
  const { rows, skipped } = readJsonl<ServerMetricsLine>(path);
  const source = rows.find((r): r is ServerMetricsSource => r.type === 'source') ?? null;
  return { source, samples: rows.filter((r): r is ServerMetricsSample => r.type === 'sample'), skipped };
}

function readOldSummary(path: string): Partial<SummaryJson> | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Partial<SummaryJson>;
  } catch {
    return null;
  }
}
