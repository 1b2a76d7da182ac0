// The controller's connection to one remote agent: the token on the upgrade request, the versioned hello, the setup
// (the API key travels only now, over the authenticated channel), clock pings, and the agent's loss.
import WebSocket from 'ws';
import { ToolError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { estimateOffset, type ClockEstimate, type PingSample } from './agent-clock.ts';
import {
  AGENT_MAX_MESSAGE_BYTES,
  AGENT_PROTOCOL_VERSION,
  AGENT_TOKEN_ENV,
  parseMessage,
  versionMismatch,
  type AgentSetup,
  type FromAgent,
  type ToAgent,
} from './agent-protocol.ts';

const RETRY_MS = 500;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface LinkOptions {
  token: string;
  toolVersion: string;
  /** Tests: speak another protocol version. */
  protocol?: number;
  clock: Clock;
  /** Retry a refused or unresolvable connection this long (agents still starting). */
  connectWaitMs: number;
}

/** Connection errors worth a retry while agents start: nothing listens yet, or the name does not resolve yet. */
const TRANSIENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH']);

function refusal(url: string, status: number): ToolError {
  if (status === 401)
    return new ToolError(
      'agent_unavailable',
      `agent ${url} refused this controller: the agent token is missing or wrong (HTTP 401)`,
      `set ${AGENT_TOKEN_ENV} to the token the agents were started with`,
    );
  if (status === 409)
    return new ToolError('agent_unavailable', `agent ${url} is busy with another controller (HTTP 409)`);
  return new ToolError('agent_unavailable', `agent ${url} refused the connection (HTTP ${status})`);
}

/** Opens the WebSocket, retrying while nothing listens yet; rejects at once on a refusal (token, busy). */
async function open(url: string, o: LinkOptions): Promise<WebSocket> {
  const deadline = o.clock.now() + o.connectWaitMs;
  for (;;) {
    const attempt = await new Promise<WebSocket | { code: string; error: Error }>((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${o.token}` },
        maxPayload: AGENT_MAX_MESSAGE_BYTES,
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(refusal(url, res.statusCode ?? 0));
      });
      ws.once('error', (error: NodeJS.ErrnoException) => resolve({ code: error.code ?? '', error }));
    });
    if (attempt instanceof WebSocket) return attempt;
    if (!TRANSIENT.has(attempt.code) || o.clock.now() + RETRY_MS > deadline)
      throw new ToolError(
        'agent_unavailable',
        `agent ${url} is unreachable: ${attempt.error.message}`,
        'start it with `find-capacity agent --listen HOST:PORT` and check the address',
      );
    await new Promise<void>((r) => o.clock.setTimeout(() => r(), RETRY_MS));
  }
}

export class AgentLink {
  lost: string | null = null;
  /** Run-clock time of the last message from the agent. */
  lastHeardMs: number;
  estimate: ClockEstimate | null = null;
  /** The largest error bound of the estimates used for stages. */
  maxErrorBoundMs = 0;
  records = 0;
  /** Receives the agent's stage messages (records, ticks, done, failed). */
  onStageMessage: ((m: FromAgent) => void) | null = null;
  /** Called once when the connection ends before close(). */
  onClose: ((why: string) => void) | null = null;
  private waiter: ((m: FromAgent) => void) | null = null;
  private readonly pings = new Map<number, (m: { t1: number; t2: number }) => void>();
  private seq = 0;
  private closing = false;

  private constructor(
    readonly index: number,
    readonly url: string,
    private readonly ws: WebSocket,
    private readonly clock: Clock,
  ) {
    this.lastHeardMs = clock.now();
    ws.on('message', (data) => this.receive(String(data)));
    ws.once('close', (code, reason) => {
      const why = `connection closed (code ${code}${reason.length > 0 ? `: ${reason.toString()}` : ''})`;
      // Between stages nobody listens: the agent is lost for the stages to come.
      if (!this.closing && this.lost === null) {
        if (this.onClose) this.onClose(why);
        else this.lost = why;
      }
      this.waiter?.({ type: 'failed', message: why });
    });
    ws.on('error', () => {});
  }

  /** Connects, says hello (both sides check the version) and sets the agent up. */
  static async connect(index: number, url: string, setup: AgentSetup, o: LinkOptions): Promise<AgentLink> {
    const link = new AgentLink(index, url, await open(url, o), o.clock);
    try {
      const ours = { protocol: o.protocol ?? AGENT_PROTOCOL_VERSION, toolVersion: o.toolVersion };
      const hello = await link.request({ type: 'hello', ...ours });
      if (hello.type === 'hello') {
        const mismatch = versionMismatch(ours, hello, `agent ${url}`);
        if (mismatch) throw new ToolError('agent_unavailable', mismatch);
      } else throw link.unexpected(hello);
      const ready = await link.request({ type: 'setup', setup });
      if (ready.type !== 'ready') throw link.unexpected(ready);
      return link;
    } catch (err) {
      link.terminate();
      throw err;
    }
  }

  send(m: ToAgent): void {
    if (this.lost === null && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  /** `n` pings one after another; the estimate of the best. Rejects when one goes unanswered for `timeoutMs`. */
  async measureClock(n: number, timeoutMs: number): Promise<ClockEstimate> {
    const samples: PingSample[] = [];
    for (let k = 0; k < n; k++) {
      const seq = this.seq++;
      const t0 = this.clock.now();
      const pong = await new Promise<{ t1: number; t2: number }>((resolve, reject) => {
        const timer = this.clock.setTimeout(() => {
          this.pings.delete(seq);
          reject(new Error(`no answer to a clock ping within ${timeoutMs} ms`));
        }, timeoutMs);
        this.pings.set(seq, (m) => {
          this.clock.clear(timer);
          resolve(m);
        });
        this.send({ type: 'ping', seq });
      });
      samples.push({ t0, t1: pong.t1, t2: pong.t2, t3: this.clock.now() });
    }
    this.estimate = estimateOffset(samples);
    return this.estimate;
  }

  /** The agent is gone for the rest of the run: its socket is cut. */
  markLost(why: string): void {
    if (this.lost !== null) return;
    this.lost = why;
    this.terminate();
  }

  /** Ends the session; the agent closes its side when it has cleaned up. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.send({ type: 'close' });
    const timer = this.clock.setTimeout(() => this.terminate(), 5000);
    await closed;
    this.clock.clear(timer);
  }

  private terminate(): void {
    this.closing = true;
    this.ws.terminate();
  }

  private receive(text: string): void {
    this.lastHeardMs = this.clock.now();
    const m = parseMessage<FromAgent>(text);
    if (m === null) return;
    if (m.type === 'pong') return this.pings.get(m.seq)?.(m);
    if (this.waiter) return this.waiter(m);
    this.onStageMessage?.(m);
  }

  /** Sends a message and resolves with the agent's next message (a refusal or a close included). */
  private request(m: ToAgent): Promise<FromAgent> {
    return new Promise<FromAgent>((resolve) => {
      const timer = this.clock.setTimeout(
        () => this.waiter?.({ type: 'failed', message: `no answer within ${HANDSHAKE_TIMEOUT_MS / 1000} s` }),
        HANDSHAKE_TIMEOUT_MS,
      );
      this.waiter = (reply) => {
        this.clock.clear(timer);
        this.waiter = null;
        resolve(reply);
      };
      this.send(m);
    });
  }

  private unexpected(m: FromAgent): ToolError {
    const said = m.type === 'refused' || m.type === 'failed' ? m.message : `an unexpected "${m.type}" message`;
    return new ToolError('agent_unavailable', `agent ${this.url} refused this controller: ${said}`);
  }
}
