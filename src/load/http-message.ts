// What both HTTP clients of the transport read off a response the same way: node:http's (http-fetch.ts, under the
// SDK) and the wire sender's (wire.ts): which statuses have no body, a header from the raw list, the web Headers the
// SDK's errors take, and the decoder of a compressed body.
import zlib from 'node:zlib';

/** Statuses whose responses have no body (the Response constructor rejects one). */
export const NO_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** A raw header list (name, value, …) as web Headers. */
export function headersOfRaw(raw: readonly string[]): Headers {
  const h = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
  return h;
}

/** A header's values joined with ', ', or null when absent: one field without building an object of them all. */
export function rawHeaderValue(raw: readonly string[], lowerCaseName: string): string | null {
  let value: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== lowerCaseName.length || name.toLowerCase() !== lowerCaseName) continue;
    value = value === null ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
}

/** The stream that decodes a body of this content-encoding (as undici's fetch would), or null for none we know. */
export function decoderFor(contentEncoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | null {
  const enc = contentEncoding.trim().toLowerCase();
  if (enc === 'gzip' || enc === 'x-gzip') return zlib.createGunzip();
  if (enc === 'deflate') return zlib.createInflate();
  if (enc === 'br') return zlib.createBrotliDecompress();
  return null;
}
