// Real `find-capacity agent` processes on 127.0.0.1 ephemeral ports, for the remote-agents tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BIN, ROOT } from '../helpers.ts';

export const AGENT_TOKEN = `agent-token-${randomBytes(12).toString('hex')}`;

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `find-capacity agent --listen 127.0.0.1:0 [args]` and resolves once it prints its address. */
export function spawnAgent(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<AgentProcess> {
  const child = spawn(process.execPath, [BIN, 'agent', '--listen', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    env: { ...process.env, FIND_CAPACITY_AGENT_TOKEN: AGENT_TOKEN, ...env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start\n${out}\n${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /agent listening on (ws:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: () => out, stderr: () => err, exited });
      }
    });
    void exited.then(() => reject(new Error(`agent exited before listening\n${out}\n${err}`)));
  });
}

export function spawnAgents(n: number, args: string[] = []): Promise<AgentProcess[]> {
  return Promise.all(Array.from({ length: n }, () => spawnAgent(args)));
}

/** Ends agents still running (a stopped one is continued first so that it can die). */
export async function killAgents(agents: readonly AgentProcess[]): Promise<void> {
  for (const a of agents) {
    if (a.child.exitCode !== null || a.child.signalCode !== null) continue;
    a.child.kill('SIGCONT');
    a.child.kill('SIGKILL');
  }
  await Promise.all(agents.map((a) => a.exited));
}

export function readJsonLines<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** The stage index of a request id (`<prefix>-<stage>-<seq>`). */
export function stageOfId(id: string): number {
  return Number(/-(\d+)-\d+$/.exec(id)![1]);
}
