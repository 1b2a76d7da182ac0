// Helpers for the reliability and security tests: the CLI as a child process that can be signalled
// (alone or with its whole process group, like a terminal's Ctrl-C), run directories read strictly,
// loopback servers that count what reaches them, and the simulator's ground-truth log.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import type { GroundTruthRecord } from '../../src/sim/index.ts';
import { BIN, ROOT, type CliResult } from '../helpers.ts';

export interface CliProcess {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
  /** Resolves with the stderr text once it matches (rejects if the process ends first). */
  waitFor(re: RegExp): Promise<string>;
}

/**
 * Starts `find-capacity args...`. With `group`, the CLI leads its own process group, so a test can
 * signal the group (what a terminal does on Ctrl-C) without reaching the test runner.
 */
export function startCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; group?: boolean; timeoutMs?: number } = {},
): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  let stdout = '';
  let stderr = '';
  const watchers: { re: RegExp; resolve: (s: string) => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...watchers]) {
      if (w.re.test(stderr)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(stderr);
      }
    }
  };
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`find-capacity ${args.join(' ')} timed out\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of watchers.splice(0))
        w.reject(
          new Error(`process ended (code ${code}, signal ${signal}) before stderr matched ${w.re}\nstderr:\n${stderr}`),
        );
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitFor: (re) =>
      new Promise<string>((resolve, reject) => {
        watchers.push({ re, resolve, reject });
        check();
      }),
  };
}

/** Run directories (those with a profile.json) directly under `dir`. */
export function runDirsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => existsSync(join(dir, f, 'profile.json')))
    .map((f) => join(dir, f));
}

export function onlyRunDir(dir: string): string {
  const dirs = runDirsIn(dir);
  if (dirs.length !== 1) throw new Error(`expected one run directory in ${dir}, found ${dirs.length}`);
  return dirs[0]!;
}

/**
 * Parses a JSONL file line by line. Every line must be whole JSON, except that a last line without its
 * newline (torn by a kill mid-write) is reported instead of parsed.
 */
export function readJsonlStrict<T = Record<string, unknown>>(path: string): { rows: T[]; tornLast: boolean } {
  const text = readFileSync(path, 'utf8');
  if (text === '') return { rows: [], tornLast: false };
  const lines = text.split('\n');
  const last = lines.pop()!;
  const rows = lines.map((l, i) => {
    try {
      return JSON.parse(l) as T;
    } catch {
      throw new Error(`${path}:${i + 1} is not JSON: ${l.slice(0, 120)}`);
    }
  });
  // The writer always ends its lines: text after the last newline is a torn line, whatever it holds.
  return { rows, tornLast: last !== '' };
}

export function readGroundTruth(path: string): Map<string, GroundTruthRecord> {
  const out = new Map<string, GroundTruthRecord>();
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as GroundTruthRecord;
    out.set(r.id, r);
  }
  return out;
}

export interface LoopbackServer {
  url: string;
  port: number;
  connections(): number;
  requests(): http.IncomingMessage[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that counts TCP connections and requests; `handler` answers (default: 404). */
export async function loopbackServer(
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<LoopbackServer> {
  let connections = 0;
  const requests: http.IncomingMessage[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push(req);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (handler) handler(req, res, body);
      else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"not found"}}');
      }
    });
  });
  server.on('connection', (s: net.Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    connections: () => connections,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Direct children of a process whose command line contains `match` (Linux `ps`). */
export function childPids(pid: number, match = ''): number[] {
  let text = '';
  try {
    text = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are none
  }
  return text
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[2]!.includes(match))
    .map((m) => Number(m[1]));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(cond: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The parts of a request record these tests read. */
export interface Rec {
  id: string;
  stage: number;
  phase: 'warmup' | 'window';
  ok: boolean;
  t0: number;
  headersAt: number | null;
  firstContentAt: number | null;
  lastContentAt: number | null;
  end: number;
  contentChunks: number;
  status: number | null;
  errorClass: string | null;
  errorPhase: string | null;
  error: string | null;
  outputTokens: number;
  retryAfterS: number | null;
}
