// What the transport needs to know of the target and the requests: plain data, so worker threads can receive it.

export interface TransportConfig {
  baseUrl: string;
  apiKey: string;
  /** A null value removes a header the SDK would add (Authorization without a key). */
  headers: Record<string, string | null>;
  /** Payload i is sent as `{ ...body.base, ...body.payloads[i] }`. */
  body: { base: Record<string, unknown>; payloads: readonly Record<string, unknown>[] };
  stream: boolean;
  timeouts: { firstTokenMs: number; idleMs: number; totalMs: number };
}
