// The node:http fetch behind the transport's fast path: a Response the SDK can use as usual (status, headers, text()
// of error bodies, abort), whose body the transport takes as a Node stream.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimNodeBody, createHttpFetch, rawHeader, responseHasBody } from '../../src/load/http-fetch.ts';

let server: http.Server;
let base = '';
const seen: { method: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/v1/chat/completions')) {
        if (req.headers['x-case'] === 'error') {
          res
            .writeHead(404, { 'content-type': 'application/json', 'x-request-id': 'req_1' })
            .end('{"error":{"message":"no such model","type":"invalid_request_error"}}');
        } else if (req.headers['x-case'] === 'hang') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: {}\n\n');
        } else {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end('data: [DONE]\n\n');
        }
      } else if (req.url === '/empty') res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('createHttpFetch', () => {
  it('sends what the SDK builds and hands the body over as a Node stream, once', async () => {
    const f = createHttpFetch();
    try {
      const client = new OpenAI({
        baseURL: `${base}/v1`,
        defaultQuery: { 'api-version': '1' },
        apiKey: 'sk-test',
        maxRetries: 0,
        fetch: f.fetch,
        defaultHeaders: { 'x-extra': 'yes' },
      });
      const response = await client.chat.completions
        .create(
          { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true },
          { headers: { 'x-request-id': 'r1' } },
        )
        .asResponse();
      const req = seen.at(-1)!;
      expect(req.method).toBe('POST');
      expect(response.url).toContain('api-version=1');
      expect(req.headers.authorization).toBe('Bearer sk-test');
      expect(req.headers['x-extra']).toBe('yes');
      expect(req.headers['x-request-id']).toBe('r1');
      expect(req.headers['content-length']).toBe(String(Buffer.byteLength(req.body)));
      expect(JSON.parse(req.body)).toMatchObject({ model: 'm', stream: true });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      expect(response.url).toContain('/v1/chat/completions');
      expect(responseHasBody(response)).toBe(true);
      const node = claimNodeBody(response);
      expect(node).not.toBeNull();
      expect(claimNodeBody(response)).toBeNull();
      let text = '';
      for await (const chunk of node!) text += String(chunk);
      expect(text).toBe('data: [DONE]\n\n');
    } finally {
      f.close();
    }
  });

  it('error statuses become the SDK error types with the body text, as with the default fetch', async () => {
    const f = createHttpFetch();
    try {
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0, fetch: f.fetch });
      const err = await client.chat.completions
        .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-case': 'error' } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).message).toContain('no such model');
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).requestID).toBe('req_1');
    } finally {
      f.close();
    }
  });

  it('text(), a web body for other readers, no body for 204', async () => {
    const f = createHttpFetch();
    try {
      expect(await (await f.fetch(`${base}/plain`)).text()).toBe('hello');
      const r = await f.fetch(`${base}/plain`);
      expect(r.body).not.toBeNull();
      expect(claimNodeBody(r)).toBeNull();
      expect(await new Response(r.body).text()).toBe('hello');
      const empty = await f.fetch(`${base}/empty`);
      expect(empty.status).toBe(204);
      expect(responseHasBody(empty)).toBe(false);
    } finally {
      f.close();
    }
  });

  it('an abort before the response rejects; an abort after it ends the body with an error', async () => {
    const f = createHttpFetch();
    try {
      const before = new AbortController();
      before.abort();
      await expect(f.fetch(`${base}/plain`, { signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
      const after = new AbortController();
      const r = await f.fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        body: '{}',
        headers: { 'x-case': 'hang' },
        signal: after.signal,
      });
      const node = claimNodeBody(r)!;
      const ended = new Promise<unknown>((resolve) => node.on('error', resolve));
      node.resume();
      after.abort();
      expect(await ended).toMatchObject({ name: 'AbortError' });
    } finally {
      f.close();
    }
  });
});

describe('rawHeader', () => {
  it('reads a header from the raw list whatever its case, joining repeats as node does, and "" when absent', async () => {
    const got = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const s = http.createServer((_req, res) => {
        res.writeHead(200, [
          ['Content-Encoding', 'GZIP '],
          ['x-other', 'a'],
          ['content-encoding', 'br'],
        ]);
        res.end();
      });
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        http
          .get(`http://127.0.0.1:${port}/`, { agent: false }, (res) => {
            res.resume();
            res.on('end', () => s.close(() => resolve(res)));
          })
          .on('error', reject);
      });
    });
    expect(rawHeader(got, 'content-encoding')).toBe(got.headers['content-encoding']);
    expect(rawHeader(got, 'content-encoding')).toBe('GZIP, br');
    expect(rawHeader(got, 'x-missing')).toBe('');
  });
});
