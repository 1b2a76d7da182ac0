// node:http helpers of the simulator's server: JSON answers, resets, request ids and bounded body reads.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const JSON_HEADERS = { 'content-type': 'application/json' };
export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

export function headerValue(v: string | string[] | undefined): string | null {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === '') return null;
  return s
    .trim()
    .slice(0, 256)
    .replace(/[^\x20-\x7e]/g, '_');
}

export type BodyResult = { ok: true; body: Buffer } | { ok: false; bytes: number; drained: boolean };

/** Reads the body up to the limit; a larger body is drained (up to a hard cap) so the 400 can be read by the client. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
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
