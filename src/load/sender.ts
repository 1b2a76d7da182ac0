// Sending: a planned request out, its response (status, and the body as a Node or a web stream) back. The official
// `openai` SDK builds the request (auth, headers, Azure query, error types). Fast path: the SDK builds each payload's
// request once and every request re-sends it on keep-alive connections with its own x-request-id (prepared.ts, wire.ts). The 'sdk' path
// (the SDK per request, its own fetch and web streams) stays for comparison. Owns how a request in flight is aborted.
import OpenAI from 'openai';
import type { Reply } from './body-reader.ts';
import {
  ABORT_LINK,
  abortViaLink,
  claimNodeBody,
  createHttpFetch,
  responseHasBody,
  type AbortLink,
  type HttpFetch,
} from './http-fetch.ts';
import {
  capture,
  capturingFetch,
  createPreparedSender,
  withBody,
  type PreparedRequest,
  type PreparedSender,
} from './prepared.ts';
import type { PlannedRequest } from './record-fold.ts';
import type { TransportConfig } from './transport-config.ts';

type Body = Record<string, unknown>;

/** The output length a body asks for, or null when it sets none. */
export function requestedOutputTokens(body: Body): number | null {
  const n = body.max_completion_tokens ?? body.max_tokens;
  return typeof n === 'number' ? n : null;
}

/** How one request is aborted: through the node:http fetch's link, or the SDK's signal. */
export interface AbortHandle {
  link: AbortLink | null;
  controller: AbortController | null;
}

/**
 * The SDK appends the path to baseURL as text, so a query in base_url (Azure's `?api-version=...`) would swallow
 * the path; it goes into the SDK's defaultQuery instead, which it appends to every request URL.
 */
export function splitBaseUrl(baseUrl: string): { baseURL: string; defaultQuery: Record<string, string> | undefined } {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return { baseURL: baseUrl, defaultQuery: undefined };
  }
  if (u.search === '' && u.hash === '') return { baseURL: baseUrl, defaultQuery: undefined };
  const defaultQuery = Object.fromEntries(u.searchParams);
  u.search = '';
  u.hash = '';
  return {
    baseURL: u.toString().replace(/\/+$/, ''),
    defaultQuery: Object.keys(defaultQuery).length > 0 ? defaultQuery : undefined,
  };
}

function replyOf(response: Response): Reply {
  const node = claimNodeBody(response);
  return {
    status: response.status,
    wire: null,
    node,
    web: node === null && responseHasBody(response) ? response.body : null,
  };
}

export class RequestSender {
  private readonly client: OpenAI;
  /** The node:http fetch: on the fast path, unless a fetch was given. */
  private readonly httpFetch: HttpFetch | null;
  private readonly prepared: PreparedSender | null = null;
  private readonly captureClient: OpenAI | null = null;
  private readonly templates: Promise<PreparedRequest | null>[] = [];
  /** Templates once built (null: sent through the SDK); a request then costs no await before it is sent. */
  private readonly ready: (PreparedRequest | null | undefined)[] = [];
  /** For bodies built per request: one SDK build, re-sent with each body when the SDK sends JSON.stringify(body). */
  private ownBodyTemplate: Promise<PreparedRequest | null> | null = null;
  private readonly endpoint: 'chat' | 'completions';

  /** `fetch`: one for the SDK instead of either path's (tests replaying recorded streams). */
  constructor(
    private readonly config: TransportConfig,
    path: 'fast' | 'sdk',
    fetch?: typeof globalThis.fetch,
  ) {
    this.endpoint = config.endpoint ?? 'chat';
    const { baseURL, defaultQuery } = splitBaseUrl(config.baseUrl);
    this.httpFetch = path === 'fast' && !fetch ? createHttpFetch() : null;
    const fetchImpl = fetch ?? this.httpFetch?.fetch;
    const sdkOptions = {
      baseURL,
      defaultQuery,
      apiKey: config.apiKey,
      // Our own timers decide; the SDK's retries would hide errors and distort latency.
      maxRetries: 0,
      timeout: config.timeouts.totalMs + 60_000,
      defaultHeaders: config.headers,
      logLevel: 'off' as const,
      // Not from OPENAI_ORG_ID / OPENAI_PROJECT_ID: an account's ids are no business of the endpoint under test;
      // a profile that wants them sends them in target.headers.
      organization: null,
      project: null,
    };
    this.client = new OpenAI({ ...(fetchImpl ? { fetch: fetchImpl } : {}), ...sdkOptions });
    if (this.httpFetch !== null) {
      this.prepared = createPreparedSender();
      this.captureClient = new OpenAI({ fetch: capturingFetch, ...sdkOptions });
    }
  }

  abortHandle(): AbortHandle {
    return this.httpFetch !== null
      ? { link: { aborted: null, exchange: null }, controller: null }
      : { link: null, controller: new AbortController() };
  }

  /**
   * The response's status and body; rejects with the SDK's error for an error status, or the connection's.
   * `body`: a body built for this request instead of payload `p.payload`.
   */
  send(p: PlannedRequest, h: AbortHandle, body?: Body): Promise<Reply> {
    if (body !== undefined) return this.prepared !== null ? this.fastReplyWith(p, h, body) : this.sdkReply(p, h, body);
    return this.prepared !== null ? this.fastReply(p, h) : this.sdkReply(p, h, this.bodyOf(p.payload));
  }

  abort(h: AbortHandle, message: string): void {
    if (h.link) abortViaLink(h.link, Object.assign(new Error(message), { name: 'AbortError' }));
    else h.controller?.abort();
  }

  close(): void {
    this.httpFetch?.close();
    this.prepared?.close();
  }

  /** The whole body of payload `payload`. */
  bodyOf(payload: number): Body {
    const { base, payloads } = this.config.body;
    return { ...base, ...(payloads[payload] ?? payloads[0]) };
  }

  /** The whole body of a request built for itself. */
  ownBody(fields: Body): Body {
    return { ...this.config.body.base, ...fields };
  }

  /** The response through the SDK: its own fetch (path 'sdk', tests' fetch) or the node:http one. */
  private async sdkReply(p: PlannedRequest, h: AbortHandle, body: Body): Promise<Reply> {
    const options = {
      ...(h.link
        ? { fetchOptions: { [ABORT_LINK]: h.link } as unknown as OpenAI.RequestOptions['fetchOptions'] }
        : { signal: h.controller!.signal }),
      headers: { 'x-request-id': p.id },
    };
    const response = await (
      this.endpoint === 'completions'
        ? this.client.completions.create(body as unknown as OpenAI.CompletionCreateParamsStreaming, options)
        : this.client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, options)
    ).asResponse();
    return replyOf(response);
  }

  // Built at a payload's first use and kept: one SDK build (~0.1 ms) in that first request's latency, as every request
  // paid before. Not all up front: a prompts file of 10,000 payloads stalled the event loop for ~1.8 s that way, in
  // the first stage. A refusal by the SDK is kept too and becomes each request's error for that payload.
  private fastReply(p: PlannedRequest, h: AbortHandle): Promise<Reply> {
    const template = this.ready[p.payload];
    if (template === undefined) return this.fastReplyOnceBuilt(p, h);
    if (template === null) return this.sdkReply(p, h, this.bodyOf(p.payload));
    return this.prepared!.send(template, p.id, h.link!);
  }

  private async fastReplyOnceBuilt(p: PlannedRequest, h: AbortHandle): Promise<Reply> {
    const body = this.bodyOf(p.payload);
    this.ready[p.payload] = await (this.templates[p.payload] ??= capture(this.captureClient!, body, this.endpoint));
    return this.fastReply(p, h);
  }

  // A body built per request (a fresh synthetic prompt, a conversation's history) costs one JSON.stringify, not an
  // SDK build: the request the SDK built for the first such body is re-sent with each body, as long as that first
  // body's bytes were exactly JSON.stringify of it (else every such request goes through the SDK).
  private async fastReplyWith(p: PlannedRequest, h: AbortHandle, body: Body): Promise<Reply> {
    const json = JSON.stringify(body);
    this.ownBodyTemplate ??= capture(this.captureClient!, body, this.endpoint).then((t) =>
      t !== null && t.body.toString() === json ? t : null,
    );
    const template = await this.ownBodyTemplate;
    if (template === null) return this.sdkReply(p, h, body);
    return this.prepared!.send(withBody(template, json), p.id, h.link!);
  }
}
