// What the transport needs to know of the target and the requests: plain data, so worker threads can receive it.

export interface TransportConfig {
  baseUrl: string;
  apiKey: string;
  /** A null value removes a header the SDK would add (Authorization without a key). */
  headers: Record<string, string | null>;
  /** Payload i is sent as `{ ...body.base, ...body.payloads[i] }`. */
  body: { base: Record<string, unknown>; payloads: readonly Record<string, unknown>[] };
  /** `/chat/completions` (default) or legacy `/completions` (payloads carry `prompt`, answers come as `text`). */
  endpoint?: 'chat' | 'completions';
  stream: boolean;
  timeouts: { firstTokenMs: number; idleMs: number; totalMs: number };
}

/** A body built for one request (a synthetic prompt, a conversation's turn): sent as `{ ...body.base, ...fields }`. */
export interface RequestBody {
  fields: Record<string, unknown>;
  /** Given the answer's text when the request succeeded (a conversation resends it); its text is kept only then. */
  onAnswer?: (text: string) => void;
}
