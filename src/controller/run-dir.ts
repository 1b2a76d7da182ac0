// Reads a run directory's files (profile.json, stages.jsonl, requests.jsonl, summary.json): for `report`,
// `compare` and the end of a live run. Only the files are used, so a directory copied from another machine works.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError } from '../errors.ts';
import { readJsonl } from '../io/jsonl.ts';
import type { RequestRecord } from '../model/record.ts';
import type { Profile } from '../profile/types.ts';
import type { SummaryJson } from '../report/summary.ts';
import type { StageLine } from './fold.ts';

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
  const profile = JSON.parse(readFileSync(required(dir, 'profile.json'), 'utf8')) as Profile;
  return { dir, profile, ...readRunRecords(dir), summary: readOldSummary(join(dir, 'summary.json')) };
}

function readOldSummary(path: string): Partial<SummaryJson> | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Partial<SummaryJson>;
  } catch {
    return null;
  }
}
