// `find-capacity agent`: a remote load agent. It accepts one controller at a time (its token checked before the
// WebSocket opens), runs the in-process executor on the share of each stage the controller sends, on a clock shifted
// to the controller's, and streams every record back as it ends (docs/distributed.md).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { makeRedactor } from '../util/secrets.ts';
import { agentNow, shiftedClock, type ShiftedClock } from './agent-clock.ts';
import {
  AGENT_MAX_MESSAGE_BYTES,
  AGENT_PROTOCOL_VERSION,
  parseMessage,
  versionMismatch,
  type AgentSetup,
  type AgentStage,
  type FromAgent,
  type ToAgent,
} from './agent-protocol.ts';
import type { RunBudget } from './executor.ts';
import { recordBatcher } from './record-batch.ts';
import type { InProcessExecutor } from './stage-runner.ts';
import { createPartExecutor } from './part-executor.ts';
import { localWindowCounter } from './tally.ts';

/** How often a running stage tells the controller it is alive (it counts an agent silent for long as lost). */
const TICK_MS = 250;
const HELLO_TIMEOUT_MS = 10_000;

export interface AgentServerOptions {
  host: string;
  port: number;
  /** FIND_CAPACITY_AGENT_TOKEN: a controller must present it. */
  token: string;
  toolVersion: string;
  /** Tests: speak another protocol version. */
  protocol?: number;
  /** Exit after the first controller's session. */
  once?: boolean;
  /** One line per event; never a secret (each line goes through the session's redactor). */
  log?: (line: string) => void;
}

export interface AgentServer {
  url: string;
  port: number;
  /** Resolves when the server has closed (`once`, or close()). */
  closed: Promise<void>;
  /** Stops a running stage gracefully (the interrupt grace), sends its records, then closes. */
  close(): Promise<void>;
}

/** Constant-time token check: hashing first makes both sides the same length. */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice('Bearer '.length) : undefined;
}

export async function startAgentServer(o: AgentServerOptions): Promise<AgentServer> {
  if (o.token.length === 0) throw new Error('the agent token is empty');
  const log = o.log ?? (() => {});
  let session: AgentSession | null = null;
  const wss = new WebSocketServer({
    host: o.host,
    port: o.port,
    maxPayload: AGENT_MAX_MESSAGE_BYTES,
    verifyClient: (info, cb) => {
      const from = info.req.socket.remoteAddress ?? 'unknown';
      if (!tokenMatches(bearer(info.req), o.token)) {
        log(`refused a controller from ${from}: missing or wrong agent token`);
        return cb(false, 401, 'agent token missing or wrong');
      }
      if (session !== null) {
        log(`refused a controller from ${from}: busy with another controller`);
        return cb(false, 409, 'agent busy with another controller');
      }
      cb(true);
    },
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const closed = new Promise<void>((resolve) => wss.once('close', resolve));
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await session?.end('the agent is shutting down');
      wss.close();
      await closed;
    })());
  wss.on('connection', (ws, req) => {
    log(`controller connected from ${req.socket.remoteAddress ?? 'unknown'}`);
    const s = new AgentSession(ws, o, log);
    session = s;
    ws.once('close', () => {
      void s.end('the controller closed the connection').then(() => {
        if (session === s) session = null;
        if (o.once) void close();
      });
    });
  });
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : o.port;
  const hostInUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  return { url: `ws://${hostInUrl}:${port}`, port, closed, close };
}

/** One controller's session: hello, setup, then pings and stages until it closes. */
class AgentSession {
  private readonly clock: ShiftedClock = shiftedClock();
  private redact = makeRedactor([]);
  private hello = false;
  private executor: InProcessExecutor | null = null;
  private running: Promise<void> | null = null;
  private interrupt: AbortController | null = null;
  private stopRequested = false;
  private ended: Promise<void> | null = null;
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    private readonly o: AgentServerOptions,
    private readonly logLine: (line: string) => void,
  ) {
    this.helloTimer = setTimeout(() => ws.close(1002, 'no hello'), HELLO_TIMEOUT_MS);
    ws.on('message', (data) => {
      const m = parseMessage<ToAgent>(String(data));
      if (m === null) return this.refuse('unreadable message');
      this.dispatch(m);
    });
  }

  private log(line: string): void {
    this.logLine(this.redact(line));
  }

  private send(m: FromAgent): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(m));
  }

  private refuse(message: string): void {
    this.log(`refused the controller: ${message}`);
    this.send({ type: 'refused', message });
    this.ws.close(1008, 'refused');
  }

  private dispatch(m: ToAgent): void {
    if (m.type === 'hello') return this.onHello(m);
    if (!this.hello) return this.refuse('the controller must say hello first');
    switch (m.type) {
      case 'setup':
        return this.onSetup(m.setup);
      case 'ping':
        return this.send({ type: 'pong', seq: m.seq, t1: agentNow(), t2: agentNow() });
      case 'stage':
        return this.onStage(m);
      case 'stop':
        this.stopRequested = true;
        return;
      case 'interrupt':
        this.interrupt?.abort();
        return;
      case 'close':
        this.ws.close(1000, 'done');
        return;
    }
  }

  private onHello(m: Extract<ToAgent, { type: 'hello' }>): void {
    clearTimeout(this.helloTimer);
    const ours = { protocol: this.o.protocol ?? AGENT_PROTOCOL_VERSION, toolVersion: this.o.toolVersion };
    this.send({ type: 'hello', ...ours });
    const mismatch = versionMismatch(ours, m, 'the controller');
    if (mismatch) return this.refuse(mismatch);
    this.hello = true;
  }

  private onSetup(setup: AgentSetup): void {
    const part = createPartExecutor(setup, this.clock);
    this.redact = part.redact;
    this.executor = part.executor;
    this.log(`agent ${setup.index}: set up for ${new URL(setup.transport.baseUrl).host}`);
    this.send({ type: 'ready' });
  }

  private onStage(m: AgentStage): void {
    if (!this.executor || this.running) {
      this.send({ type: 'failed', message: this.executor ? 'a stage is already running' : 'not set up' });
      return;
    }
    this.running = this.runStage(this.executor, m)
      .catch((err: unknown) => {
        const message = this.redact(err instanceof Error ? err.message : String(err));
        this.log(`stage ${m.plan.index} failed: ${message}`);
        this.send({ type: 'failed', message });
      })
      .finally(() => {
        this.running = null;
      });
  }

  private async runStage(executor: InProcessExecutor, m: AgentStage): Promise<void> {
    this.clock.setOffset(m.offsetMs);
    this.stopRequested = false;
    this.interrupt = new AbortController();
    let sent = 0;
    const batcher = recordBatcher(this.clock, (records) => this.send({ type: 'records', records, sent }));
    const tick = setInterval(() => this.send({ type: 'tick', sent }), TICK_MS);
    const budget: RunBudget = {
      remainingRequests: () => Math.max(0, m.maxRequests - sent),
      deadlineMs: m.deadlineMs ?? Number.POSITIVE_INFINITY,
      countSent: (n) => void (sent += n),
      exceeded: () =>
        this.stopRequested || sent >= m.maxRequests || (m.deadlineMs !== null && this.clock.now() >= m.deadlineMs),
    };
    this.log(`stage ${m.plan.index}: part ${m.part.index + 1} of ${m.part.of}`);
    try {
      const hooks = { onRecord: batcher.push, maxErrorRate: Infinity, stopSignal: this.interrupt.signal, budget };
      const plan = { ...m.plan, requestLimit: m.requestLimit };
      const res = await executor.runStage(plan, hooks, { part: m.part, windowCounter: localWindowCounter() });
      batcher.flush();
      this.send({ type: 'done', window: res.window, stoppedBy: res.stoppedBy, health: res.health, sent });
      const { eventLoopDelayP99Ms: eld, cpuPercent: cpu } = res.health;
      const health = `event-loop delay p99 ${eld.toFixed(1)} ms, CPU ${cpu.toFixed(0)}%`;
      this.log(
        `stage ${m.plan.index}: ${res.records.length} records${res.stoppedBy ? ` (${res.stoppedBy})` : ''}, ${health}`,
      );
    } finally {
      clearInterval(tick);
      this.interrupt = null;
    }
  }

  /** Ends the session: a running stage is interrupted (its records still go out while the socket is open). */
  end(why: string): Promise<void> {
    this.ended ??= (async () => {
      clearTimeout(this.helloTimer);
      if (this.running) {
        this.log(`stopping the running stage: ${why}`);
        this.interrupt?.abort();
        await this.running;
      }
      await this.executor?.close();
      this.executor = null;
      if (this.ws.readyState === this.ws.OPEN) this.ws.close(1001, 'agent shutting down');
      this.log(`session ended: ${why}`);
    })();
    return this.ended;
  }
}
