// How the machine a run measured from reads, in the report and in `compare`: one wording for both.
import type { GcMode } from '../util/gc-mode.ts';

/** summary.json's `environment`; the last two fields are absent in runs from before they were recorded. */
export interface EnvironmentJson {
  node: string;
  platform: string;
  cpus: number;
  cpus_available?: number | null;
  gc?: GcMode | null;
}

/** "2 CPUs", or "2 CPUs (1 available to find-capacity)" when it was pinned to fewer. */
export function cpusText(e: EnvironmentJson): string {
  const all = `${e.cpus} CPU${e.cpus === 1 ? '' : 's'}`;
  const available = e.cpus_available;
  return available != null && available < e.cpus ? `${all} (${available} available to find-capacity)` : all;
}

/** "v20.20.2", with ", single-threaded GC" when the CLI relaunched itself with it (cli/relaunch.ts). */
export function nodeText(e: EnvironmentJson): string {
  return `${e.node}${e.gc === 'single-threaded' ? ', single-threaded GC' : ''}`;
}
