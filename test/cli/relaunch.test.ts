// On one CPU the CLI starts itself again with --single-threaded-gc (cli/relaunch.ts): the decision, and the real CLI
// pinned to one CPU with taskset, which records how it ran and takes one SIGINT as one.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_RELAUNCH_ENV, relaunch, relaunchFlags } from '../../src/cli/relaunch.ts';
import { interruptibleProfile, runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';

const linux = { cpus: 1, execArgv: [], env: {}, platform: 'linux' as const };

describe('relaunchFlags', () => {
  it('asks for --single-threaded-gc on one CPU only, once, and never when told not to', () => {
    expect(relaunchFlags(linux)).toEqual(['--single-threaded-gc']);
    expect(relaunchFlags({ ...linux, cpus: 2 })).toBeNull();
    expect(relaunchFlags({ ...linux, execArgv: ['--single-threaded-gc'] })).toBeNull();
    expect(relaunchFlags({ ...linux, execArgv: ['--no-single-threaded-gc'] })).toBeNull();
    expect(relaunchFlags({ ...linux, env: { [NO_RELAUNCH_ENV]: '1' } })).toBeNull();
    expect(relaunchFlags({ ...linux, platform: 'win32' })).toBeNull();
    expect(relaunchFlags({ ...linux, execArgv: ['--inspect-brk=9229'] })).toBeNull();
  });
});

describe('relaunch', () => {
  it('runs here (null) when the child cannot be started, and leaves no signal handler or timer behind', async () => {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGTSTP', 'SIGCONT'] as const;
    const before = signals.map((s) => process.listenerCount(s));
    await expect(relaunch(['--single-threaded-gc'], join(tempDir(), 'no-such-node'))).resolves.toBeNull();
    expect(signals.map((s) => process.listenerCount(s))).toEqual(before);
  });
});

const taskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pinned = ['taskset', '-c', '0'];
/** Two short stages whose SLO always holds: the run ends with exit 5, no knee up to the highest level. */
const twoStages = (): string =>
  simProfile({
    slots: 4,
    concurrency: '[1, 2]',
    slo: ['p99(ttft) < 5s', 'success_rate >= 90%'],
    warmup: '100ms',
    duration: '300ms',
    tokens: 5,
    extra: 'verdict: {max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}',
  });

const childrenOf = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
/** Fields of /proc/PID/stat after the command name: [0] the state (R, S, T...), [2] the process group. */
const statFields = (pid: number): string[] => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};
const processGroup = (pid: number): number => Number(statFields(pid)[2]);
const processState = (pid: number): string => statFields(pid)[0]!;

interface Summary {
  interrupted: boolean;
  environment: { gc: string | null; cpus_available: number | null };
}

function summaryIn(dir: string): Summary {
  const run = readdirSync(dir).find((f) => existsSync(join(dir, f, 'summary.json')));
  return JSON.parse(readFileSync(join(dir, run!, 'summary.json'), 'utf8')) as Summary;
}

describe.runIf(taskset)('the CLI on one CPU', () => {
  it('runs with single-threaded GC, says so in summary.json, and without it when not pinned', async () => {
    const dir = tempDir();
    const file = writeProfile(dir, 'p.yaml', twoStages());
    const one = await runCli([file, '--out', join(dir, 'one')], { prefix: pinned });
    expect(one.stderr).not.toMatch(/internal error/);
    // Every stage holds the lax SLO: exit 5, no knee up to the highest level.
    expect(one.code).toBe(5);
    expect(summaryIn(join(dir, 'one')).environment).toMatchObject({ gc: 'single-threaded', cpus_available: 1 });
    if (availableParallelism() < 2) return;
    const all = await runCli([file, '--out', join(dir, 'all')]);
    expect(all.code).toBe(5);
    expect(summaryIn(join(dir, 'all')).environment).toMatchObject({
      gc: 'default',
      cpus_available: availableParallelism(),
    });
  });

  it('takes a Ctrl-C (SIGINT to the whole process group) as one: a graceful stop, exit 130, the report written', async () => {
    const dir = tempDir();
    const file = writeProfile(dir, 'p.yaml', interruptibleProfile());
    let sent = false;
    let groups: number[] = [];
    const r = await runCli([file, '--out', dir], {
      prefix: pinned,
      ownGroup: true,
      onStderr: (text, child) => {
        if (!sent && /stage 1: concurrency 4 \(ramp\)/.test(text)) {
          sent = true;
          groups = [child.pid!, ...childrenOf(child.pid!)].map(processGroup);
          process.kill(-child.pid!, 'SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    // The run is not in the launcher's group, so the group's SIGINT reaches it only as the launcher passes it on
    // (two SIGINTs at once may merge into one; one after the other would be "Ctrl-C again": exit at once).
    expect(groups).toHaveLength(2);
    expect(groups[1]).not.toBe(groups[0]);
    expect(r.code).toBe(130);
    expect(r.stderr.match(/SIGINT: stopping/g)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/again: exiting at once/);
    const summary = summaryIn(dir);
    expect(summary.interrupted).toBe(true);
    expect(summary.environment.gc).toBe('single-threaded');
  });
});

describe.runIf(taskset)('the CLI on one CPU, under job control', () => {
  it('stops with Ctrl-Z (SIGTSTP to the group), runs on after SIGCONT and finishes', async () => {
    const dir = tempDir();
    const file = writeProfile(dir, 'p.yaml', twoStages());
    let states: string[] = [];
    let stopped = false;
    const r = await runCli([file, '--out', dir], {
      prefix: pinned,
      ownGroup: true,
      onStderr: (text, child) => {
        if (stopped || !/stage 0: concurrency 1/.test(text)) return;
        stopped = true;
        const pids = [child.pid!, ...childrenOf(child.pid!)];
        process.kill(-child.pid!, 'SIGTSTP');
        setTimeout(() => {
          states = pids.map(processState);
          process.kill(-child.pid!, 'SIGCONT');
        }, 500);
      },
    });
    expect(stopped).toBe(true);
    // Both the launcher and the run were stopped ('T'), then both ran on to the end.
    expect(states).toEqual(['T', 'T']);
    expect(r.code).toBe(5);
    expect(summaryIn(dir).interrupted).toBe(false);
  });
});

describe.runIf(taskset)('the CLI on one CPU, when what started it is killed', () => {
  it('a run stops gracefully once (as on SIGTERM) and writes its report', async () => {
    const dir = tempDir();
    const file = writeProfile(dir, 'p.yaml', interruptibleProfile());
    let killed = false;
    // The relaunched run holds the same output pipes: the result comes when it has ended too.
    const r = await runCli([file, '--out', dir], {
      prefix: pinned,
      onStderr: (text, child) => {
        if (!killed && /stage 1: concurrency 4 \(ramp\)/.test(text)) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.stderr).toMatch(/the launching process \(pid \d+\) went away/);
    expect(r.stderr.match(/SIGTERM: stopping/g)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/again: exiting at once/);
    const summary = summaryIn(dir);
    expect(summary.interrupted).toBe(true);
  });

  it('an agent stops instead of outliving it', async () => {
    let killed = false;
    const r = await runCli(['agent', '--listen', '127.0.0.1:0'], {
      prefix: pinned,
      env: { FIND_CAPACITY_AGENT_TOKEN: 'relaunch-test-token-0123456789abcdef' },
      timeoutMs: 20_000,
      onStdout: (text, child) => {
        if (!killed && /agent listening on/.test(text)) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    expect(killed).toBe(true);
    expect(r.stderr).toMatch(/went away/);
  });
});
