// Public API of the built-in simulator (see docs/simulator.md):
//   startSimulator  — embedded and test use: the server runs in a worker thread (default) or a child process,
//                     never on the caller's event loop, so it cannot distort the load generator's timings.
//   serveStandalone — `find-capacity simulate`: the server in this process (there is no load generator here).
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ToolError } from '../errors.ts';
import { parseOverrides, resolveSimConfig, type SimConfig, type SimOverrides } from './config.ts';
import { GroundTruthLog } from './groundtruth.ts';
import type { HostInit, HostMessage, ParentMessage } from './messages.ts';
import { startSimServer, SIM_HOST } from './server.ts';

export {
  FAULT_DOCS,
  FAULT_TYPES,
  SIM_FIELDS,
  SIM_PRESETS,
  SIM_PRESET_NAMES,
  SimConfigError,
  checkSimConfig,
  describeSimConfig,
  parseOverrides,
  predictClosedLoop,
  prefillMs,
  resolveSimConfig,
  stepMs,
  type ClosedLoopPrediction,
  type FaultRates,
  type FaultType,
  type SimConfig,
  type SimConfigProblem,
  type SimOverrides,
} from './config.ts';
export type { GroundTruthRecord } from './groundtruth.ts';
export { BLOCK_TOKENS as PREFIX_CACHE_BLOCK_TOKENS } from './prefix-cache.ts';
export { TOKENIZER_NAMES, loadTokenizer, type Tokenizer, type TokenizerName } from './tokenizer.ts';
export { startSimServer, type SimServer, type SimServerOptions } from './server.ts';

/** Port of `find-capacity simulate` when --port is not given. */
export const SIM_DEFAULT_PORT = 8765;

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'host-entry.mjs');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
/** A flush is a round trip and one file write: seconds without an answer mean the host is stuck or gone. */
const FLUSH_TIMEOUT_MS = 5_000;

export interface StartSimulatorOptions {
  /** demo (default), tiny, large, flaky. */
  preset?: string;
  /** Any SimConfig field: `{slots: 8}` (profile YAML) or `['slots=8']` (`--set`). */
  overrides?: SimOverrides | string[];
  /** 0 or absent = an ephemeral port. */
  port?: number;
  /** Append one JSONL line per chat or legacy completion request (the server's view) to this file. */
  groundTruthPath?: string;
  /** Where the server runs: a worker thread (default) or a child process. */
  mode?: 'worker' | 'process';
  /** Called if the simulator dies after it started (its clients will then see refused connections). */
  onCrash?: (err: Error) => void;
}

export interface RunningSimulator {
  /** `http://127.0.0.1:PORT/v1`, ready for `new OpenAI({ baseURL })`. */
  baseUrl: string;
  config: SimConfig;
  /**
   * Writes the ground-truth lines buffered so far (the log otherwise waits up to 100 ms): resolves true once the
   * file holds the line of every request whose response the caller has seen end; false when the simulator has
   * stopped or died, or did not answer within 5 s. Without a ground-truth log there is nothing to write: true.
   */
  flushGroundTruth(): Promise<boolean>;
  /** Idempotent; closes every connection (stalled streams too), flushes the ground truth, ends the thread/process. */
  stop(): Promise<void>;
}

/** Either host, seen through the same three operations. */
interface Host {
  send(msg: ParentMessage): void;
  onMessage(fn: (msg: HostMessage) => void): void;
  /** Error (if any) and exit code when the host ends. */
  onExit(fn: (err: Error | null, code: number | null) => void): void;
  kill(): void;
}

function workerHost(init: HostInit): Host {
  const worker = new Worker(ENTRY, { workerData: init, execArgv: [] });
  let error: Error | null = null;
  worker.on('error', (err) => {
    error = err;
  });
  return {
    send: (msg) => worker.postMessage(msg),
    onMessage: (fn) => worker.on('message', fn),
    onExit: (fn) => worker.on('exit', (code) => fn(error, code)),
    kill: () => void worker.terminate(),
  };
}

function processHost(init: HostInit): Host {
  const child: ChildProcess = fork(ENTRY, [], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  let error: Error | null = null;
  child.on('error', (err) => {
    error = err;
  });
  child.send({ type: 'start', init } satisfies ParentMessage);
  return {
    send: (msg) => {
      if (child.connected) child.send(msg);
    },
    onMessage: (fn) => child.on('message', (m) => fn(m as HostMessage)),
    onExit: (fn) =>
      child.on('exit', (code, signal) => fn(error ?? (signal ? new Error(`killed by ${signal}`) : null), code)),
    kill: () => void child.kill('SIGKILL'),
  };
}

function startFailure(message: string, errorCode: string | null, port: number): ToolError {
  if (errorCode === 'EADDRINUSE') {
    return new ToolError(
      'io_error',
      `the simulator could not listen on ${SIM_HOST}:${port}: the port is in use`,
      'choose another --port, or 0 for any free port',
    );
  }
  return new ToolError('internal', `the simulator failed to start: ${message}`, null);
}

/** What startSimulator tracks of its host: its life, and the callers waiting on it. */
interface HostState {
  ready: boolean;
  exited: boolean;
  stopRequested: boolean;
  exitWaiters: (() => void)[];
  stoppedWaiters: (() => void)[];
  flushWaiters: Map<number, (flushed: boolean) => void>;
  flushSeq: number;
}

function settleFlushes(state: HostState, flushed: boolean): void {
  for (const w of [...state.flushWaiters.values()]) w(flushed);
}

/** Follows the host's messages and exit; resolves with its port once it listens, rejects if it never does. */
function watchHost(host: Host, state: HostState, opts: StartSimulatorOptions, port: number): Promise<number> {
  return new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => {
      host.kill();
      reject(new ToolError('internal', `the simulator did not start within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    host.onMessage((msg) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        state.ready = true;
        resolvePort(msg.port);
      } else if (msg.type === 'failed') {
        clearTimeout(timer);
        reject(startFailure(msg.message, msg.errorCode, port));
      } else if (msg.type === 'stopped') {
        for (const w of state.stoppedWaiters.splice(0)) w();
      } else if (msg.type === 'flushed') {
        state.flushWaiters.get(msg.seq)?.(true);
      }
    });
    host.onExit((err, code) => {
      state.exited = true;
      clearTimeout(timer);
      settleFlushes(state, false);
      for (const w of state.exitWaiters.splice(0)) w();
      const why = err ? err.message : `exit code ${code}`;
      const kind = opts.mode === 'process' ? 'process' : 'worker';
      if (!state.ready) reject(new ToolError('internal', `the simulator ${kind} died before it was ready: ${why}`));
      else if (!state.stopRequested) opts.onCrash?.(new Error(`the simulator died: ${why}`));
    });
  });
}

function flushHost(host: Host, state: HostState): Promise<boolean> {
  if (state.exited || state.stopRequested) return Promise.resolve(false);
  const seq = ++state.flushSeq;
  return new Promise<boolean>((resolveFlush) => {
    const timer = setTimeout(() => settle(false), FLUSH_TIMEOUT_MS);
    const settle = (flushed: boolean) => {
      clearTimeout(timer);
      state.flushWaiters.delete(seq);
      resolveFlush(flushed);
    };
    state.flushWaiters.set(seq, settle);
    host.send({ type: 'flush', seq });
  });
}

function stopHost(host: Host, state: HostState): Promise<void> {
  return new Promise<void>((done) => {
    state.stopRequested = true;
    // The host stops answering flushes: whoever waits gets false now rather than after the timeout.
    settleFlushes(state, false);
    if (state.exited) return done();
    state.exitWaiters.push(done);
    // The host flushes the ground truth before it reports 'stopped'; after that it may be ended at once.
    state.stoppedWaiters.push(() => host.kill());
    setTimeout(() => host.kill(), STOP_TIMEOUT_MS).unref();
    host.send({ type: 'stop' });
  });
}

/**
 * Starts the simulator off the caller's event loop and resolves once it accepts connections.
 * Rejects with a ToolError on a bad preset/override (before anything starts), a busy port, or a crash at start-up.
 */
export async function startSimulator(opts: StartSimulatorOptions = {}): Promise<RunningSimulator> {
  const config = resolveSimConfig(opts.preset, opts.overrides ?? {});
  const port = opts.port ?? 0;
  const init: HostInit = { config, port, groundTruthPath: opts.groundTruthPath ? resolve(opts.groundTruthPath) : null };
  const host = (opts.mode ?? 'worker') === 'process' ? processHost(init) : workerHost(init);
  const state: HostState = {
    ready: false,
    exited: false,
    stopRequested: false,
    exitWaiters: [],
    stoppedWaiters: [],
    flushWaiters: new Map(),
    flushSeq: 0,
  };
  const boundPort = await watchHost(host, state, opts, port);
  let stopping: Promise<void> | null = null;
  return {
    baseUrl: `http://${SIM_HOST}:${boundPort}/v1`,
    config,
    flushGroundTruth: () => flushHost(host, state),
    stop: () => (stopping ??= stopHost(host, state)),
  };
}

export interface StandaloneOptions {
  preset?: string;
  overrides?: SimOverrides | string[];
  /** `--set key=value` arguments, applied after `overrides`. */
  set?: string[];
  /** Default SIM_DEFAULT_PORT (8765); 0 = any free port. */
  port?: number;
  groundTruthPath?: string;
}

/**
 * For `find-capacity simulate`: starts the server in this process (nothing else runs here) and returns
 * once it listens. The caller prints `describeSimConfig(config)` and `baseUrl`, and calls stop() on Ctrl-C.
 */
export async function serveStandalone(opts: StandaloneOptions = {}): Promise<RunningSimulator> {
  const base = Array.isArray(opts.overrides) ? parseOverrides(opts.overrides) : (opts.overrides ?? {});
  const config = resolveSimConfig(opts.preset, { ...base, ...parseOverrides(opts.set ?? []) });
  const port = opts.port ?? SIM_DEFAULT_PORT;
  try {
    const server = await startSimServer(config, { port, groundTruthPath: opts.groundTruthPath ?? null });
    return {
      baseUrl: server.baseUrl,
      config,
      // Same process as the server: let the 'close' callbacks already due run, then write (see host.ts).
      flushGroundTruth: async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        await GroundTruthLog.flushAll();
        return true;
      },
      stop: () => server.stop(),
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw startFailure(e?.message ?? String(err), e?.code ?? null, port);
  }
}
