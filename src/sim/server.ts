// The simulator's HTTP side: an OpenAI-compatible server (node:http, 127.0.0.1 only) whose chat and legacy
// completions are paced by the Engine, with seeded fault injection, the optional ground-truth log and /metrics.
// This module runs wherever it is started; startSimulator (index.ts) keeps it off the load generator's thread.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance as perfHooks, type EventLoopUtilization } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import type { FaultType, SimConfig } from './config.ts';
import { Engine, type EngineStats } from './engine.ts';
import { Exchange, encodePrompt, type ServerContext } from './exchange.ts';
import { FaultSchedule } from './faults.ts';
import { ChatChunks } from './format.ts';
import { GroundTruthLog, epochMs, type GroundTruthRecord } from './groundtruth.ts';
import { JSON_HEADERS, SSE_HEADERS, headerValue, readBody, resetSocket, sendJson } from './http.ts';
import { METRICS_CONTENT_TYPE, SimMetrics, renderMetrics } from './metrics.ts';
import { PrefixCache } from './prefix-cache.ts';
import {
  BadRequest,
  errorBody,
  validateChatRequest,
  validateCompletionRequest,
  type Endpoint,
  type GenerationRequest,
} from './protocol.ts';
import { loadTokenizer, type Tokenizer } from './tokenizer.ts';

export { FaultSchedule } from './faults.ts';

export const SIM_HOST = '127.0.0.1';

export interface SimServerOptions {
  /** 0 or absent = an ephemeral port. */
  port?: number;
  /** Append one JSONL line per generation request to this file. */
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

function newRecord(id: string, arrival: number): GroundTruthRecord {
  return {
    id,
    arrival_ms: arrival,
    headers_ms: null,
    admitted_ms: null,
    first_token_ms: null,
    end_ms: arrival,
    prompt_tokens: null,
    cached_tokens: null,
    output_tokens: 0,
    reasoning_tokens: 0,
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
    record.reasoning_tokens = exchange()?.reasoningTokens ?? 0;
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
async function readRequest(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  record: GroundTruthRecord,
  endpoint: Endpoint,
): Promise<GenerationRequest | null> {
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
    return endpoint === 'chat' ? validateChatRequest(parsed) : validateCompletionRequest(parsed);
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
      const opening = stalledStream();
      if (opening !== null) {
        res.writeHead(200, SSE_HEADERS);
        if (opening) res.write(opening);
        else res.flushHeaders();
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

async function handleGeneration(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  arrival: number,
  endpoint: Endpoint,
): Promise<void> {
  const { config } = ctx;
  const seq = ctx.nextId();
  const id = headerValue(req.headers['x-request-id']) ?? `sim-${seq}`;
  res.setHeader('x-request-id', id);
  const record = newRecord(id, arrival);
  let exchange: Exchange | null = null;
  logOnClose(ctx, res, record, () => exchange);
  const request = await readRequest(ctx, req, res, record, endpoint);
  if (request === null) return;
  const prompt = encodePrompt(ctx, request.promptTexts);
  record.prompt_tokens = prompt.tokens;
  record.max_tokens = request.maxTokens ?? config.default_max_tokens;
  record.stream = request.stream;
  const { fault, position } = ctx.faults.next();
  record.fault = fault;
  const who = {
    id: `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-sim-${seq}`,
    created: Math.floor(Date.now() / 1000),
    model: request.model ?? config.model,
  };
  // A stalled stream sends what precedes the first token: the chat role chunk, nothing for legacy completions.
  const stalledStream = () => (!request.stream ? null : endpoint === 'chat' ? new ChatChunks(who).opening() : '');
  if (frontDoorFault(ctx, req, res, record, fault, stalledStream)) return;
  exchange = new Exchange(ctx, res, request, prompt, who, fault, position, record);
  if (!exchange.start()) rejectQueueFull(config, res, record);
}

function notFound(res: ServerResponse, method: string, path: string): void {
  sendJson(
    res,
    404,
    errorBody(
      `Unknown request URL: ${method} ${path}. The simulator serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health and GET /metrics.`,
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

const GENERATION_PATHS: Record<string, Endpoint> = {
  '/v1/chat/completions': 'chat',
  '/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/completions': 'completions',
};

function route(site: Site, req: IncomingMessage, res: ServerResponse): void {
  const arrival = epochMs();
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  try {
    const endpoint = GENERATION_PATHS[path];
    if (endpoint) {
      if (method !== 'POST') {
        const message = `Method ${method} not allowed on ${path}; use POST.`;
        const body = errorBody(message, 'invalid_request_error', null, 'method_not_allowed');
        sendJson(res, 405, body, { allow: 'POST' });
        return;
      }
      handleGeneration(site.ctx, req, res, arrival, endpoint).catch((err: unknown) => internalError(res, err));
      return;
    }
    req.resume();
    if (method === 'GET' && (path === '/v1/models' || path === '/models')) {
      const model = { id: site.ctx.config.model, object: 'model', created: 0, owned_by: 'find-capacity-simulator' };
      sendJson(res, 200, { object: 'list', data: [model] });
    } else if (method === 'GET' && path === '/health') {
      sendJson(res, 200, healthBody(site));
    } else if (method === 'GET' && path === '/metrics') {
      const { config, engine, metrics } = site.ctx;
      const text = renderMetrics(config, engine, metrics);
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
      res.end(text);
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
  tokenizer: Tokenizer,
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
    tokenizer,
    prefixCache: config.prefix_cache ? new PrefixCache(config.prefix_cache_tokens) : null,
    metrics: new SimMetrics(),
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
  const tokenizer = await loadTokenizer(config.tokenizer);
  const gt = opts.groundTruthPath ? await GroundTruthLog.open(opts.groundTruthPath) : null;
  const { ctx, stopping, drained } = createContext(config, gt, tokenizer);
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
