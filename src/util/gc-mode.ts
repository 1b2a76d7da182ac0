// How V8 collects garbage in this process: 'single-threaded' when find-capacity relaunched itself on one CPU
// (cli/relaunch.ts), so that summary.json can say how the generator ran.
export const SINGLE_THREADED_GC = '--single-threaded-gc';

export type GcMode = 'single-threaded' | 'default';

export function gcMode(execArgv: readonly string[]): GcMode {
  return execArgv.includes(SINGLE_THREADED_GC) ? 'single-threaded' : 'default';
}
