// The one writer of a run directory: profile.json, requests.jsonl, stages.jsonl, server-metrics.jsonl,
// summary.json, report.html.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { JsonlWriter, writeFileAtomicSync } from '../io/jsonl.ts';
import type { RequestRecord } from '../model/record.ts';
import type { ServerMetricsSample, ServerMetricsSource } from '../model/server-metrics.ts';
import type { StageMeta } from '../model/verdict.ts';
import { profileToJson } from '../profile/json.ts';
import type { Profile } from '../profile/types.ts';
import { renderReportHtml } from '../report/html.ts';
import { redactProfile, type SummaryJson } from '../report/summary.ts';
import type { StageLine } from './fold.ts';

export const SERVER_METRICS_FILE = 'server-metrics.jsonl';

export function runDirName(name: string, date: Date): string {
  const ts = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${name}-${ts}`;
}

export class RunFiles {
  private requests: JsonlWriter | null = null;
  private stages: JsonlWriter | null = null;
  private serverMetrics: JsonlWriter | null = null;
  private created = false;

  constructor(readonly dir: string) {}

  /** The directory exists before the simulator starts: it writes its ground truth into it. */
  create(): void {
    // mkdirSync returns undefined when the directory already existed: that one is not ours to remove.
    this.created ||= mkdirSync(this.dir, { recursive: true }) !== undefined;
  }

  /** profile.json first: a directory announced to the user is always one `find-capacity report` can rebuild. */
  open(profile: Profile): void {
    this.create();
    const json = profileToJson(redactProfile(profile));
    writeFileAtomicSync(join(this.dir, 'profile.json'), JSON.stringify(json, null, 2) + '\n');
    this.requests = new JsonlWriter(join(this.dir, 'requests.jsonl'));
    this.stages = new JsonlWriter(join(this.dir, 'stages.jsonl'));
  }

  get announced(): boolean {
    return this.requests !== null;
  }

  appendRecord(rec: RequestRecord): void {
    this.requests!.append(rec);
  }

  flushRecords(): void {
    this.requests!.flush();
    this.serverMetrics?.flush();
  }

  /** server-metrics.jsonl, only when the server answered its /metrics probe. */
  openServerMetrics(source: ServerMetricsSource): void {
    this.serverMetrics = new JsonlWriter(join(this.dir, SERVER_METRICS_FILE));
    this.serverMetrics.append(source);
  }

  appendServerMetrics(sample: ServerMetricsSample): void {
    this.serverMetrics?.append(sample);
  }

  appendStage(meta: StageMeta): void {
    const line: StageLine = { type: 'stage', ...meta };
    this.stages!.append(line);
    this.stages!.flush();
  }

  closeRecords(): void {
    this.requests?.close();
    this.serverMetrics?.close();
  }

  writeEnd(stopReason: string, stopDetail: string): void {
    this.stages!.append({ type: 'end', stop_reason: stopReason, stop_detail: stopDetail });
    this.stages!.close();
  }

  /** Written whole (temp file + rename): a reader never sees half a summary. */
  writeResults(summary: SummaryJson): void {
    writeFileAtomicSync(join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileAtomicSync(join(this.dir, 'report.html'), renderReportHtml(summary));
  }

  /** A directory never announced holds nothing worth keeping. */
  discardIfUnannounced(): void {
    if (this.created && !this.announced) rmSync(this.dir, { recursive: true, force: true });
  }
}
