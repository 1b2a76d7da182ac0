// Runs the simulator server inside a worker thread or a forked child process and talks to index.ts:
// parent → {type:'start', init} (child process only; a worker gets it as workerData), {type:'stop'}, {type:'flush', seq};
// host → {type:'ready', port} | {type:'failed', message, errorCode} | {type:'stopped'} | {type:'flushed', seq}.
import { parentPort, workerData } from 'node:worker_threads';
import { GroundTruthLog } from './groundtruth.ts';
import { startSimServer, type SimServer } from './server.ts';
import type { HostInit, HostMessage, ParentMessage } from './messages.ts';

interface Channel {
  send(msg: HostMessage): Promise<void>;
  onMessage(fn: (msg: ParentMessage) => void): void;
  /** Called when the parent goes away (child process only). */
  onParentGone(fn: () => void): void;
  close(): void;
}

function workerChannel(): Channel | null {
  const port = parentPort;
  if (!port) return null;
  return {
    send: async (msg) => port.postMessage(msg),
    onMessage: (fn) => port.on('message', fn),
    onParentGone: () => {},
    close: () => port.close(),
  };
}

function processChannel(): Channel | null {
  if (typeof process.send !== 'function') return null;
  return {
    // The parent may be gone (killed, or exited without stopping us): nothing to tell it then, and no error.
    send: (msg) =>
      new Promise((resolve) =>
        process.connected ? process.send!(msg, undefined, undefined, () => resolve()) : resolve(),
      ),
    onMessage: (fn) => process.on('message', (m) => fn(m as ParentMessage)),
    onParentGone: (fn) => process.once('disconnect', fn),
    close: () => {
      if (process.connected) process.disconnect();
    },
  };
}

const channel = workerChannel() ?? processChannel();
if (!channel)
  throw new Error('src/sim/host.ts must run in a worker thread or a forked child process; use startSimulator()');

let server: SimServer | null = null;
let stopping: Promise<void> | null = null;

function stop(): Promise<void> {
  stopping ??= (async () => {
    await server?.stop();
    await channel!.send({ type: 'stopped' });
    channel!.close();
    if (!parentPort) process.exit(0);
  })();
  return stopping;
}

async function start(init: HostInit): Promise<void> {
  try {
    server = await startSimServer(init.config, { port: init.port, groundTruthPath: init.groundTruthPath });
    await channel!.send({ type: 'ready', port: server.port });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    await channel!.send({ type: 'failed', message: e?.message ?? String(err), errorCode: e?.code ?? null });
    channel!.close();
    if (!parentPort) process.exit(1);
  }
}

/**
 * Answers once the ground truth holds the line of every request the parent has seen end. Such a response has
 * finished here too, but its line is written by its 'close' event, which may still be queued behind this
 * message in the same turn of the loop: one setImmediate lets the callbacks already due run first.
 */
async function flush(seq: number): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await GroundTruthLog.flushAll();
  // Once stopping, the channel may be closed; the parent no longer waits for an answer then.
  if (stopping === null) await channel!.send({ type: 'flushed', seq });
}

channel.onParentGone(() => void stop());
channel.onMessage((msg) => {
  if (msg.type === 'start') void start(msg.init);
  else if (msg.type === 'stop') void stop();
  else if (msg.type === 'flush') void flush(msg.seq);
});
if (parentPort) void start(workerData as HostInit);
