// On one CPU, find-capacity starts itself again with `--single-threaded-gc`: V8's helper threads (concurrent marking,
// parallel scavenge) would otherwise take the event loop's only core in the middle of a token burst, and the
// generator's own TTFT tail doubles (BENCHMARKS.md, "The generator's own TTFT tail"). The flag cannot be set once
// V8 runs, nor through NODE_OPTIONS. The launcher forwards SIGINT, SIGTERM and SIGHUP to the run exactly once each,
// stops and continues it with itself (Ctrl-Z, fg), and exits with its exit code.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { SINGLE_THREADED_GC } from '../util/gc-mode.ts';

/** Set in the relaunched process (so that it never relaunches again); set it yourself to keep one process. */
export const NO_RELAUNCH_ENV = 'FIND_CAPACITY_NO_RELAUNCH';
/** The pid of the process that relaunched this one, in the relaunched process's environment. */
const RELAUNCHER_ENV = 'FIND_CAPACITY_RELAUNCHER_PID';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** What this process exits with when its launcher went away first (nobody reads it): interrupted. */
const LAUNCHER_GONE_EXIT = 130;

export interface ProcessFacts {
  /** os.availableParallelism(): the CPUs this process may run on (taskset, a cpuset), not the machine's. */
  cpus: number;
  execArgv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
}

/** The V8 flags to start again with, or null to run in this process. */
export function relaunchFlags(p: ProcessFacts): string[] | null {
  if (p.cpus !== 1 || p.platform === 'win32' || p.env[NO_RELAUNCH_ENV]) return null;
  if (p.execArgv.some((a) => a.endsWith('single-threaded-gc'))) return null;
  // A debugger is attached to this process (and its port taken): run here, where it can see the run.
  if (p.execArgv.some((a) => a.startsWith('--inspect'))) return null;
  return [SINGLE_THREADED_GC];
}

/**
 * Runs this command again in a child with `flags`, and resolves with the exit code to end with; null when the child
 * could not be started (then run here). The child gets a process group of its own, so that a terminal's Ctrl-C
 * reaches it once, through this process, not twice. When this process's own launcher goes away, it exits and leaves
 * the child to notice (it stops gracefully, as it would have without the relaunch).
 */
export function relaunch(flags: readonly string[], execPath = process.execPath): Promise<number | null> {
  const child = spawn(execPath, [...process.execArgv, ...flags, ...process.argv.slice(1)], {
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, [NO_RELAUNCH_ENV]: '1', [RELAUNCHER_ENV]: String(process.pid) },
  });
  // Job control: the child's group has no terminal, so the kernel would discard a SIGTSTP sent to it; SIGSTOP it.
  const handlers: [NodeJS.Signals, () => void][] = [
    ...FORWARDED.map((signal): [NodeJS.Signals, () => void] => [signal, () => child.kill(signal)]),
    ['SIGTSTP', () => child.kill('SIGSTOP') && process.kill(process.pid, 'SIGSTOP')],
    ['SIGCONT', () => child.kill('SIGCONT')],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const stopWatching = whenParentGone(() => process.exit(LAUNCHER_GONE_EXIT));
  const stopListening = () => {
    stopWatching();
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  return new Promise((resolve) => {
    let started = false;
    child.once('spawn', () => (started = true));
    child.once('error', () => {
      if (started) return;
      stopListening();
      resolve(null);
    });
    child.once('exit', (code, signal) => {
      stopListening();
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/** In a relaunched process: the pid of the process that relaunched it, while it is still its parent; else null. */
export function relauncherPid(): number | null {
  const pid = Number(process.env[RELAUNCHER_ENV]);
  return pid > 0 && pid === process.ppid ? pid : null;
}

/**
 * In a relaunched process: when the relauncher goes away (SIGKILL), stop as on SIGTERM, once, as every command does
 * (a run writes its report); without this an agent or a simulator would outlive a `kill -9` of what the user started.
 */
export function followRelauncher(): void {
  if (relauncherPid() === null) return;
  whenParentGone((pid) => {
    process.stderr.write(`\nthe launching process (pid ${pid}) went away\n`);
    process.kill(process.pid, 'SIGTERM');
  });
}

/**
 * Calls `gone` once, with the parent's pid, when this process's parent has gone (it was re-parented); returns the
 * function that stops watching. Polled: Node has no parent-death signal.
 */
export function whenParentGone(gone: (parentPid: number) => void): () => void {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    gone(parent);
  }, 500).unref();
  return () => clearInterval(watch);
}
