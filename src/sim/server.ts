// The simulator's HTTP side: an OpenAI-compatible server (node:http, 127.0.0.1 only) whose chat completions
// are paced by the Engine, with seeded fault injection and the optional ground-truth log.
// This module runs wherever it is started; startSimulator (index.ts) keeps it off the load generator's thread.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance as perfHooks, type EventLoopUtilization } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { FAULT_TYPES, type FaultType, type SimConfig } from './config.ts';
import { Engine, type EngineSequence, type EngineStats, type EngineTicket } from './engine.ts';
import { GroundTruthLog, epochMs, type GroundTruthRecord } from './groundtruth.ts';
import { mulberry32 } from '../util/prng.ts';
import {
  BadRequest,
  ChunkWriter,
  DONE_EVENT,
  MALFORMED_EVENT,
  completionObject,
  errorBody,
  tokenText,
  validateChatRequest,
  type ChatRequest,
} from './protocol.ts';

export const SIM_HOST = '127.0.0.1';

export interface SimServerOptions {
  /** 0 or absent = an ephemeral port. */
  port?: number;
  /** Append one JSONL line per chat-completion request to this file. */
  groundTruthPath?: string | null;
}

export interface SimServer {
  port: number;
  /** `http://127.0.0.1:PORT/v1` */
  baseUrl: string;
  config: SimConfig;
  stats(): EngineStats;
  /** Idempotent: stops the engine, closes every socket (stalled ones too) and flushes the ground truth. */
  stop(): Promise<void>;
}

/** One draw per chat-completion request, in arrival order: same seed + same order ⇒ same faults. */
export class FaultSchedule {
  private readonly rng: () => number;
  private readonly cumulative: [FaultType, number][] = [];

  constructor(config: SimConfig) {
    this.rng = mulberry32(config.seed);
    let acc = 0;
    for (const f of FAULT_TYPES) {
      if (config.faults[f] <= 0) continue;
      acc += config.faults[f];
      this.cumulative.push([f, acc]);
    }
  }

  /** The fault for the next request (or null) and a uniform number that places mid-stream faults. */
  next(): { fault: FaultType | null; position: number } {
    const u = this.rng();
    const position = this.rng();
    for (const [f, upTo] of this.cumulative) if (u < upTo) return { fault: f, position };
    return { fault: null, position };
  }
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

function headerValue(v: string | string[] | undefined): string | null {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === '') return null;
  return s
    .trim()
    .slice(0, 256)
    .replace(/[^\x20-\x7e]/g, '_');
}

type BodyResult = { ok: true; body: Buffer } | { ok: false; bytes: number; drained: boolean };

/** Reads the body up to the limit; a larger body is drained (up to a hard cap) so the 400 can be read by the client. */
function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const hardCap = limit * 4 + (1 << 20);
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > hardCap) {
      resolve({ ok: false, bytes: declared, drained: false });
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      bytes += chunk.length;
      if (bytes <= limit) chunks.push(chunk);
      else if (bytes > hardCap) {
        settled = true;
        resolve({ ok: false, bytes, drained: false });
      }
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(bytes <= limit ? { ok: true, body: Buffer.concat(chunks, bytes) } : { ok: false, bytes, drained: true });
    });
    req.on('error', () => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, bytes, drained: false });
    });
  });
}

interface ServerContext {
  config: SimConfig;
  engine: Engine;
  faults: FaultSchedule;
  gt: GroundTruthLog | null;
  isStopping(): boolean;
  nextId(): number;
  /** Counts chat requests whose response has not closed yet, so stop() can wait for their ground-truth lines. */
  opened(): void;
  closed(): void;
}

/** One chat completion in flight: the engine calls it once per step; it writes at most once per step. */
class Exchange implements EngineSequence {
  readonly promptTokens: number;
  readonly tokens: number;
  private readonly contentTokens: number;
  private readonly faultAt: number;
  private written = 0;
  private malformedSent = false;
  private ticket: EngineTicket | null = null;
  private readonly chunks: ChunkWriter | null;
  private readonly finishReason: 'stop' | 'length';
  private readonly record: GroundTruthRecord;

  constructor(
    private readonly ctx: ServerContext,
    private readonly res: ServerResponse,
    private readonly request: ChatRequest,
    private readonly completionId: string,
    private readonly created: number,
    private readonly model: string,
    readonly fault: FaultType | null,
    position: number,
    record: GroundTruthRecord,
  ) {
    this.record = record;
    const n = request.maxTokens ?? ctx.config.default_max_tokens;
    // An explicit limit is always reached ("length"); the default models a reply that ends by itself ("stop").
    this.finishReason = request.maxTokens !== null ? 'length' : 'stop';
    this.promptTokens = request.promptTokens;
    this.faultAt = 1 + Math.floor(position * Math.max(1, n - 1));
    switch (fault) {
      case 'empty_completion':
        this.contentTokens = 0;
        this.tokens = 0;
        break;
      case 'truncated':
      case 'error_event':
        this.contentTokens = this.faultAt;
        this.tokens = this.faultAt;
        break;
      case 'reset_mid_stream':
        // One more step after the k-th token, so the client has read it before the reset arrives.
        this.contentTokens = this.faultAt;
        this.tokens = this.faultAt + 1;
        break;
      default:
        this.contentTokens = n;
        this.tokens = n;
    }
    this.chunks = request.stream ? new ChunkWriter(completionId, created, JSON.stringify(model)) : null;
  }

  /**
   * Enqueues in the engine (into its first-token delay line first, if configured); false when the queue limit
   * rejected it (nothing has been written yet). Streaming headers and the role chunk go out at once, delay or not.
   */
  start(): boolean {
    this.ticket = this.ctx.engine.submit(this);
    if (!this.ticket) return false;
    if (this.chunks) {
      this.record.headers_ms = epochMs();
      this.res.writeHead(200, SSE_HEADERS);
      this.res.write(this.chunks.role());
    }
    return true;
  }

  cancel(): void {
    this.ticket?.cancel();
  }

  get outputTokens(): number {
    return this.written;
  }

  onAdmit(nowMs: number): void {
    this.record.admitted_ms = performance.timeOrigin + nowMs;
  }

  onStep(emitted: number, done: boolean, nowMs: number): void {
    if (this.res.destroyed) return;
    const chunks = this.chunks;
    let out = '';
    if (emitted > this.written && emitted <= this.contentTokens) {
      if (chunks) out = chunks.token(emitted - 1);
      this.written = emitted;
      if (emitted === 1) this.record.first_token_ms = performance.timeOrigin + nowMs;
    }
    if (this.fault === 'malformed_chunk' && !this.malformedSent && this.written >= this.faultAt) {
      this.malformedSent = true;
      if (chunks) out += MALFORMED_EVENT;
    }
    if (!done) {
      if (out) this.writeChunk(out);
      return;
    }
    if (chunks) this.finishStream(chunks, out);
    else this.finishJson();
  }

  /**
   * The hot path (one call per stream per step): frames the HTTP chunk itself and writes it to the socket in one
   * call, skipping ServerResponse.write's corking and 3-buffer writev. Falls back to res.write when the response
   * is not chunked (HTTP/1.0) or not yet on its socket (a pipelined request).
   */
  private writeChunk(out: string): void {
    const socket = this.res.socket;
    if (socket && this.res.chunkedEncoding && !socket.destroyed)
      socket.write(`${Buffer.byteLength(out).toString(16)}\r\n${out}\r\n`);
    else this.res.write(out);
  }

  private usage(chunks: ChunkWriter): string {
    return this.request.includeUsage ? chunks.usage(this.promptTokens, this.written) : '';
  }

  private finishStream(chunks: ChunkWriter, out: string): void {
    switch (this.fault) {
      case 'reset_mid_stream':
        resetSocket(this.res.socket as Socket);
        return;
      case 'truncated':
        this.res.end(out);
        return;
      case 'error_event': {
        const event = errorBody(this.ctx.config.error_message, 'server_error', null, 'sim_error_event');
        this.res.end(out + `data: ${JSON.stringify(event)}\n\n` + DONE_EVENT);
        return;
      }
      case 'empty_completion':
        this.res.end(out + chunks.finish('stop') + this.usage(chunks) + DONE_EVENT);
        return;
      default:
        this.res.end(out + chunks.finish(this.finishReason) + this.usage(chunks) + DONE_EVENT);
    }
  }

  private finishJson(): void {
    const res = this.res;
    const base = { id: this.completionId, created: this.created, model: this.model, promptTokens: this.promptTokens };
    // Taken before writing: the client (on another thread) may read the headers before this code moves on.
    this.record.headers_ms = epochMs();
    switch (this.fault) {
      case 'reset_mid_stream': {
        const text = JSON.stringify(
          completionObject({
            ...base,
            content: tokenText(this.written),
            finishReason: this.finishReason,
            completionTokens: this.written,
          }),
        );
        res.writeHead(200, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, Math.floor(text.length / 2)));
        setImmediate(() => resetSocket(res.socket as Socket));
        break;
      }
      case 'malformed_chunk':
        res.writeHead(200, JSON_HEADERS);
        res.end('{not json');
        break;
      case 'error_event':
        sendJson(res, 200, errorBody(this.ctx.config.error_message, 'server_error', null, 'sim_error_event'));
        break;
      case 'truncated':
        sendJson(
          res,
          200,
          completionObject({
            ...base,
            content: tokenText(this.written),
            finishReason: null,
            completionTokens: this.written,
          }),
        );
        break;
      case 'empty_completion':
        sendJson(res, 200, completionObject({ ...base, content: '', finishReason: 'stop', completionTokens: 0 }));
        break;
      default:
        sendJson(
          res,
          200,
          completionObject({
            ...base,
            content: tokenText(this.written),
            finishReason: this.finishReason,
            completionTokens: this.written,
          }),
        );
    }
  }
}

function newRecord(id: string, arrival: number): GroundTruthRecord {
  return {
    id,
    arrival_ms: arrival,
    headers_ms: null,
    admitted_ms: null,
    first_token_ms: null,
    end_ms: arrival,
    prompt_tokens: null,
    output_tokens: 0,
    max_tokens: null,
    stream: null,
    fault: null,
    status: null,
    outcome: 'completed',
  };
}

/** Completes the ground-truth record when the response closes, however it ends, and logs it. */
function logOnClose(
  ctx: ServerContext,
  res: ServerResponse,
  record: GroundTruthRecord,
  exchange: () => Exchange | null,
): void {
  ctx.opened();
  res.on('close', () => {
    ctx.closed();
    exchange()?.cancel();
    record.end_ms = epochMs();
    record.status = res.headersSent ? res.statusCode : null;
    record.output_tokens = exchange()?.outputTokens ?? 0;
    if (record.fault !== null) record.outcome = 'fault';
    else if (!res.writableFinished) record.outcome = ctx.isStopping() ? 'server_stopped' : 'client_closed';
    ctx.gt?.write(record);
  });
}

function sendBadRequest(res: ServerResponse, record: GroundTruthRecord, err: BadRequest): void {
  record.outcome = 'bad_request';
  record.headers_ms = epochMs();
  sendJson(res, 400, err.body());
}

/** Reads, parses and validates the body; answers the 400 itself and returns null when it is not a valid request. */
async function readChatRequest(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  record: GroundTruthRecord,
): Promise<ChatRequest | null> {
  const limit = ctx.config.max_body_bytes;
  const body = await readBody(req, limit);
  if (res.destroyed) return null;
  if (!body.ok) {
    record.outcome = 'bad_request';
    const message = `Request body too large: ${body.bytes} bytes exceeds the simulator's limit of ${limit} bytes (max_body_bytes).`;
    record.headers_ms = epochMs();
    const headers: Record<string, string> = body.drained ? {} : { connection: 'close' };
    sendJson(res, 400, errorBody(message, 'invalid_request_error', null, 'request_too_large'), headers);
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.body.toString('utf8'));
  } catch {
    const message =
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)";
    sendBadRequest(res, record, new BadRequest(message, null, 'invalid_json'));
    return null;
  }
  try {
    return validateChatRequest(parsed);
  } catch (err) {
    if (!(err instanceof BadRequest)) throw err;
    sendBadRequest(res, record, err);
    return null;
  }
}

/**
 * The faults that happen at the front door, before the request takes a place in the engine: HTTP errors, a reset
 * before headers, a stall after headers. Returns true when it answered (or broke) the request.
 */
function frontDoorFault(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  record: GroundTruthRecord,
  fault: FaultType | null,
  stalledStream: () => string | null,
): boolean {
  const { config } = ctx;
  const retryAfter = { 'retry-after': String(config.retry_after_s) };
  const refuse = (status: number, type: string, headers: Record<string, string> = {}) => {
    record.headers_ms = epochMs();
    sendJson(res, status, errorBody(config.error_message, type, null, `sim_http_${status}`), headers);
  };
  switch (fault) {
    case 'http_500':
      refuse(500, 'server_error');
      return true;
    case 'http_503':
      refuse(503, 'server_error', retryAfter);
      return true;
    case 'http_429':
      refuse(429, 'rate_limit_error', retryAfter);
      return true;
    case 'reset_before_headers':
      resetSocket(req.socket);
      return true;
    case 'stall_after_headers': {
      record.headers_ms = epochMs();
      const first = stalledStream();
      if (first !== null) {
        res.writeHead(200, SSE_HEADERS);
        res.write(first);
      } else {
        res.writeHead(200, JSON_HEADERS);
        res.flushHeaders();
      }
      return true;
    }
    default:
      return false;
  }
}

function rejectQueueFull(config: SimConfig, res: ServerResponse, record: GroundTruthRecord): void {
  record.outcome = 'rejected';
  const delayed = config.first_token_delay_ms > 0 ? ', counting requests in their first-token delay' : '';
  const message = `The simulator's queue is full (${config.slots} slots + queue_limit ${config.queue_limit}${delayed}). Retry after ${config.retry_after_s} s.`;
  record.headers_ms = epochMs();
  const retryAfter = { 'retry-after': String(config.retry_after_s) };
  sendJson(res, 429, errorBody(message, 'rate_limit_error', null, 'queue_full'), retryAfter);
}

async function handleChat(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  arrival: number,
): Promise<void> {
  const { config } = ctx;
  const seq = ctx.nextId();
  const id = headerValue(req.headers['x-request-id']) ?? `sim-${seq}`;
  res.setHeader('x-request-id', id);
  const record = newRecord(id, arrival);
  let exchange: Exchange | null = null;
  logOnClose(ctx, res, record, () => exchange);
  const request = await readChatRequest(ctx, req, res, record);
  if (request === null) return;
  record.prompt_tokens = request.promptTokens;
  record.max_tokens = request.maxTokens ?? config.default_max_tokens;
  record.stream = request.stream;
  const { fault, position } = ctx.faults.next();
  record.fault = fault;
  const completionId = `chatcmpl-sim-${seq}`;
  const created = Math.floor(Date.now() / 1000);
  const model = request.model ?? config.model;
  const stalledStream = () =>
    request.stream ? new ChunkWriter(completionId, created, JSON.stringify(model)).role() : null;
  if (frontDoorFault(ctx, req, res, record, fault, stalledStream)) return;
  exchange = new Exchange(ctx, res, request, completionId, created, model, fault, position, record);
  if (!exchange.start()) rejectQueueFull(config, res, record);
}

function notFound(res: ServerResponse, method: string, path: string): void {
  sendJson(
    res,
    404,
    errorBody(
      `Unknown request URL: ${method} ${path}. The simulator serves POST /v1/chat/completions, GET /v1/models and GET /health.`,
      'invalid_request_error',
      null,
      'unknown_url',
    ),
  );
}

function internalError(res: ServerResponse, err: unknown): void {
  if (!res.headersSent)
    sendJson(res, 500, errorBody(`simulator internal error: ${String(err)}`, 'server_error', null, 'internal_error'));
  else res.destroy();
}

/** What the router needs beside the request context: the server's own state for /health. */
interface Site {
  ctx: ServerContext;
  sockets: Set<Socket>;
  eluAtStart: EventLoopUtilization;
}

function healthBody(site: Site): unknown {
  const { config, engine } = site.ctx;
  return {
    status: 'ok',
    model: config.model,
    slots: config.slots,
    queue_limit: config.queue_limit,
    pid: process.pid,
    main_thread: isMainThread,
    open_connections: site.sockets.size,
    // Busy fraction of the simulator's own event loop since it started: near 1 means it is the bottleneck.
    event_loop_utilization: Number(perfHooks.eventLoopUtilization(site.eluAtStart).utilization.toFixed(3)),
    ...engine.stats(),
  };
}

function route(site: Site, req: IncomingMessage, res: ServerResponse): void {
  const arrival = epochMs();
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  try {
    if (path === '/v1/chat/completions' || path === '/chat/completions') {
      if (method !== 'POST') {
        const message = `Method ${method} not allowed on ${path}; use POST.`;
        const body = errorBody(message, 'invalid_request_error', null, 'method_not_allowed');
        sendJson(res, 405, body, { allow: 'POST' });
        return;
      }
      handleChat(site.ctx, req, res, arrival).catch((err: unknown) => internalError(res, err));
      return;
    }
    req.resume();
    if (method === 'GET' && (path === '/v1/models' || path === '/models')) {
      const model = { id: site.ctx.config.model, object: 'model', created: 0, owned_by: 'find-capacity-simulator' };
      sendJson(res, 200, { object: 'list', data: [model] });
    } else if (method === 'GET' && path === '/health') {
      sendJson(res, 200, healthBody(site));
    } else {
      notFound(res, method, path);
    }
  } catch (err) {
    internalError(res, err);
  }
}

/** The context shared by every request, and a way to wait for the responses still open. */
function createContext(
  config: SimConfig,
  gt: GroundTruthLog | null,
): { ctx: ServerContext; stopping(): void; drained(timeoutMs: number): Promise<void> } {
  let stopping = false;
  let counter = 0;
  let inFlight = 0;
  const drainWaiters: (() => void)[] = [];
  const ctx: ServerContext = {
    config,
    engine: new Engine(config),
    faults: new FaultSchedule(config),
    gt,
    isStopping: () => stopping,
    nextId: () => ++counter,
    opened: () => {
      inFlight++;
    },
    closed: () => {
      inFlight--;
      if (inFlight === 0) for (const w of drainWaiters.splice(0)) w();
    },
  };
  const drained = (timeoutMs: number) =>
    inFlight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          drainWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
  return { ctx, stopping: () => (stopping = true), drained };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep backlog: thousands of clients may connect at once.
    server.listen({ host: SIM_HOST, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Starts the server on 127.0.0.1 in the current thread (use startSimulator to run it off the caller's thread). */
export async function startSimServer(config: SimConfig, opts: SimServerOptions = {}): Promise<SimServer> {
  const gt = opts.groundTruthPath ? await GroundTruthLog.open(opts.groundTruthPath) : null;
  const { ctx, stopping, drained } = createContext(config, gt);
  const site: Site = { ctx, sockets: new Set<Socket>(), eluAtStart: perfHooks.eventLoopUtilization() };
  const server = createServer({ noDelay: true, keepAlive: true }, (req, res) => route(site, req, res));
  server.on('connection', (socket: Socket) => {
    site.sockets.add(socket);
    socket.on('close', () => site.sockets.delete(socket));
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await listen(server, opts.port ?? 0).catch(async (err: unknown) => {
    await gt?.close();
    throw err;
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let stopped: Promise<void> | null = null;
  const stop = async () => {
    stopping();
    ctx.engine.stop();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of site.sockets) socket.destroy();
    server.closeAllConnections();
    await closed;
    // Responses emit 'close' after the server's own close: wait for their ground-truth lines (bounded).
    await drained(2000);
    await gt?.close();
  };
  return {
    port,
    baseUrl: `http://${SIM_HOST}:${port}/v1`,
    config,
    stats: () => ctx.engine.stats(),
    stop: () => (stopped ??= stop()),
  };
}
