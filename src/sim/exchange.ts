// One generation request in flight (chat or legacy completion): the engine calls it once per step and it writes
// at most once per step; it also looks its prompt up in the prefix cache when it takes a slot.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FaultType, SimConfig } from './config.ts';
import type { Engine, EngineSequence, EngineTicket } from './engine.ts';
import type { FaultSchedule } from './faults.ts';
import {
  ChatChunks,
  CompletionChunks,
  DONE_EVENT,
  MALFORMED_EVENT,
  chatCompletionObject,
  textCompletionObject,
  tokenText,
  type CompletionBody,
  type FinishReason,
  type ResponseIdentity,
  type StreamFormat,
  type Usage,
} from './format.ts';
import { epochMs, type GroundTruthLog, type GroundTruthRecord } from './groundtruth.ts';
import { JSON_HEADERS, SSE_HEADERS, resetSocket, sendJson } from './http.ts';
import type { SimMetrics } from './metrics.ts';
import { BLOCK_TOKENS, hashBlocks, type PrefixCache } from './prefix-cache.ts';
import { errorBody, type GenerationRequest } from './protocol.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface ServerContext {
  config: SimConfig;
  engine: Engine;
  faults: FaultSchedule;
  gt: GroundTruthLog | null;
  tokenizer: Tokenizer;
  /** Null when prefix_cache is off. */
  prefixCache: PrefixCache | null;
  metrics: SimMetrics;
  isStopping(): boolean;
  nextId(): number;
  /** Counts generation requests whose response has not closed yet, so stop() can wait for their ground-truth lines. */
  opened(): void;
  closed(): void;
}

/** A prompt as the engine and the prefix cache see it. */
export interface Prompt {
  tokens: number;
  /** Chained hashes of its full blocks and the tokens after the last of them; null without a prefix cache. */
  blocks: { hashes: number[]; tail: number[] } | null;
}

/** Tokenizes the prompt's texts: their token counts add up (no per-message overhead). */
export function encodePrompt(ctx: ServerContext, texts: readonly string[]): Prompt {
  const { tokenizer } = ctx;
  if (!ctx.prefixCache) {
    let tokens = 0;
    for (const text of texts) tokens += tokenizer.encode(text).length;
    return { tokens, blocks: null };
  }
  const ids: number[] = [];
  for (const text of texts) for (const id of tokenizer.encode(text)) ids.push(id);
  const hashes = hashBlocks(ids);
  return { tokens: ids.length, blocks: { hashes, tail: ids.slice(hashes.length * BLOCK_TOKENS) } };
}

/** Tokens emitted before the response ends, and steps in a slot (one more for a reset, read before it lands). */
function plannedTokens(fault: FaultType | null, n: number, faultAt: number): { emitted: number; steps: number } {
  switch (fault) {
    case 'empty_completion':
      return { emitted: 0, steps: 0 };
    case 'truncated':
    case 'error_event':
      return { emitted: faultAt, steps: faultAt };
    case 'reset_mid_stream':
      return { emitted: faultAt, steps: faultAt + 1 };
    default:
      return { emitted: n, steps: n };
  }
}

export class Exchange implements EngineSequence {
  readonly promptTokens: number;
  readonly tokens: number;
  private readonly emitLimit: number;
  /** Chat: the first this many output tokens are reasoning. */
  private readonly reasoningLimit: number;
  private readonly faultAt: number;
  private written = 0;
  private cached = 0;
  private malformedSent = false;
  private ticket: EngineTicket | null = null;
  private readonly chunks: StreamFormat | null;
  private readonly finishReason: FinishReason;

  constructor(
    private readonly ctx: ServerContext,
    private readonly res: ServerResponse,
    private readonly request: GenerationRequest,
    private readonly prompt: Prompt,
    private readonly who: ResponseIdentity,
    readonly fault: FaultType | null,
    position: number,
    private readonly record: GroundTruthRecord,
  ) {
    const n = request.maxTokens ?? ctx.config.default_max_tokens;
    // An explicit limit is always reached ("length"); the default models a reply that ends by itself ("stop").
    this.finishReason = request.maxTokens !== null ? 'length' : 'stop';
    this.promptTokens = prompt.tokens;
    this.reasoningLimit = request.endpoint === 'chat' ? ctx.config.reasoning_tokens : 0;
    this.faultAt = 1 + Math.floor(position * Math.max(1, n - 1));
    const planned = plannedTokens(fault, n, this.faultAt);
    this.emitLimit = planned.emitted;
    this.tokens = planned.steps;
    const Format = request.endpoint === 'chat' ? ChatChunks : CompletionChunks;
    this.chunks = request.stream ? new Format(who) : null;
  }

  /**
   * Enqueues in the engine (into its first-token delay line first, if configured); false when the queue limit
   * rejected it (nothing has been written yet). Streaming headers (and the chat role chunk) go out at once.
   */
  start(): boolean {
    this.ticket = this.ctx.engine.submit(this);
    if (!this.ticket) return false;
    if (this.chunks) {
      this.record.headers_ms = epochMs();
      this.res.writeHead(200, SSE_HEADERS);
      const opening = this.chunks.opening();
      if (opening) this.res.write(opening);
      else this.res.flushHeaders();
    }
    return true;
  }

  cancel(): void {
    this.ticket?.cancel();
  }

  get outputTokens(): number {
    return this.written;
  }

  get reasoningTokens(): number {
    return Math.min(this.written, this.reasoningLimit);
  }

  onAdmit(nowMs: number): number {
    this.record.admitted_ms = performance.timeOrigin + nowMs;
    this.cached = this.lookUpPrompt();
    this.record.cached_tokens = this.cached;
    return this.cached;
  }

  onStep(emitted: number, done: boolean, nowMs: number): void {
    if (this.res.destroyed) return;
    const chunks = this.chunks;
    let out = '';
    if (emitted > this.written && emitted <= this.emitLimit) {
      if (chunks) out = chunks.token(emitted - 1, emitted <= this.reasoningLimit);
      this.ctx.metrics.generationTokens += emitted - this.written;
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
    this.cacheOutput();
    if (chunks) this.finishStream(chunks, out);
    else this.finishJson();
  }

  /** The cached part of the prompt (whole blocks); its blocks are then cached for the requests after it. */
  private lookUpPrompt(): number {
    const { prefixCache, metrics } = this.ctx;
    metrics.promptTokens += this.promptTokens;
    const blocks = this.prompt.blocks;
    if (!prefixCache || !blocks) return 0;
    // As vLLM, at least the prompt's last token is computed: a fully cached prompt still prefills its last block.
    const usable = Math.floor((this.promptTokens - 1) / BLOCK_TOKENS);
    const cached = prefixCache.match(blocks.hashes, usable) * BLOCK_TOKENS;
    prefixCache.insert(blocks.hashes);
    metrics.prefixQueries += this.promptTokens;
    metrics.prefixHits += cached;
    return cached;
  }

  /** A finished sequence's KV holds its output too: cache the blocks of prompt + generated text. */
  private cacheOutput(): void {
    const { prefixCache, tokenizer } = this.ctx;
    const blocks = this.prompt.blocks;
    if (!prefixCache || !blocks || this.written === 0) return;
    const continued = blocks.tail.concat(tokenizer.encode(tokenText(0, this.written)));
    prefixCache.insert(blocks.hashes.concat(hashBlocks(continued, blocks.hashes.at(-1))));
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

  private usage(completionTokens: number): Usage {
    return {
      promptTokens: this.promptTokens,
      completionTokens,
      cachedTokens: this.ctx.prefixCache ? this.cached : null,
      reasoningTokens: this.reasoningLimit > 0 ? Math.min(completionTokens, this.reasoningLimit) : null,
    };
  }

  private streamUsage(chunks: StreamFormat): string {
    return this.request.includeUsage ? chunks.usage(this.usage(this.written)) : '';
  }

  private finishStream(chunks: StreamFormat, out: string): void {
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
        this.res.end(out + chunks.finish('stop') + this.streamUsage(chunks) + DONE_EVENT);
        return;
      default:
        this.ctx.metrics.success[this.finishReason]++;
        this.res.end(out + chunks.finish(this.finishReason) + this.streamUsage(chunks) + DONE_EVENT);
    }
  }

  /** The non-streaming answer with `tokens` output tokens, the first ones reasoning when the model reasons. */
  private responseObject(finishReason: FinishReason | null, tokens: number): unknown {
    const reasoning = Math.min(tokens, this.reasoningLimit);
    const body: CompletionBody = {
      content: tokenText(reasoning, tokens),
      reasoning: this.reasoningLimit > 0 ? tokenText(0, reasoning) : null,
      finishReason,
      usage: this.usage(tokens),
    };
    return this.request.endpoint === 'chat'
      ? chatCompletionObject(this.who, body)
      : textCompletionObject(this.who, body);
  }

  private finishJson(): void {
    const res = this.res;
    // Taken before writing: the client (on another thread) may read the headers before this code moves on.
    this.record.headers_ms = epochMs();
    switch (this.fault) {
      case 'reset_mid_stream': {
        const text = JSON.stringify(this.responseObject(this.finishReason, this.written));
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
        sendJson(res, 200, this.responseObject(null, this.written));
        break;
      case 'empty_completion':
        sendJson(res, 200, this.responseObject('stop', 0));
        break;
      default:
        this.ctx.metrics.success[this.finishReason]++;
        sendJson(res, 200, this.responseObject(this.finishReason, this.written));
    }
  }
}
