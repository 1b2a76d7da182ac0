// Shared test helpers: temp dirs, profile files and running the real CLI as a child process.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const BIN = join(ROOT, 'bin', 'find-capacity.mjs');

export function tempDir(prefix = 'fc-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeProfile(dir: string, name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `find-capacity args...`; `onStart` gets the child (e.g. to send SIGINT). */
export function runCli(
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    timeoutMs?: number;
    onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
    onStdout?: (text: string, child: ReturnType<typeof spawn>) => void;
    /** A command that execs the CLI, e.g. ['taskset', '-c', '0']. */
    prefix?: string[];
    /** Leads a process group of its own, as a shell's foreground job does (a terminal's Ctrl-C goes to the group). */
    ownGroup?: boolean;
  } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const argv = [...(opts.prefix ?? []), process.execPath, BIN, ...args];
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.ownGroup ?? false,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr, child);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`find-capacity ${args.join(' ')} timed out\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 90_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Four 1 s stages (concurrency 2 to 8) whose SLO always holds and whose generator checks never fail: a run long enough
 * to interrupt at its second stage ("stage 1: concurrency 4 (ramp)" on stderr), judged the same on any machine.
 */
export function interruptibleProfile(): string {
  return simProfile({
    slots: 8,
    concurrency: '[2, 4, 6, 8]',
    slo: ['p99(ttft) < 5s', 'success_rate >= 90%'],
    warmup: '200ms',
    duration: '1s',
    tokens: 20,
    extra: 'verdict: {max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}',
  });
}

/** A profile against the built-in simulator with a knee at `slots` (TTFT regimes far apart). */
export function simProfile(o: {
  name?: string;
  slots: number;
  concurrency: string;
  slo?: string[];
  duration?: string;
  warmup?: string;
  tokens?: number;
  sim?: string;
  extra?: string;
}): string {
  const slo = o.slo ?? ['p99(ttft) < 90ms', 'success_rate >= 90%'];
  return `name: ${o.name ?? 'test'}
target:
  simulator: {preset: tiny, slots: ${o.slots}, step_base_ms: 20, step_per_seq_ms: 0, prefill_ms_per_1k_tokens: 0, jitter: 0${o.sim ? ', ' + o.sim : ''}}
request:
  messages: [{role: user, content: "hello"}]
  max_tokens: ${o.tokens ?? 40}
  timeouts: {first_token: 5s, idle: 2s, total: 10s}
ramp:
  concurrency: ${o.concurrency}
  warmup: ${o.warmup ?? '500ms'}
  stage: {duration: ${o.duration ?? '2s'}}
  drain: 5s
slo:
${slo.map((r) => `  - ${r}`).join('\n')}
${o.extra ?? ''}
${o.extra?.includes('verdict:') ? '' : 'verdict: {max_extensions: 0}'}
`;
}
