// The simulator over real loopback HTTP, with the real openai SDK as the client where it fits.
import { spawn } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolError } from '../../src/errors.ts';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.ts';
import { waitUntil } from '../reliability/helpers.ts';
import { chatUrl, rawChat } from './raw-client.ts';

const messages = [{ role: 'user' as const, content: 'Explain continuous batching in 50 words.' }];
// The prompt's tokens under the default tokenizer (o200k_base): the content's, with no per-message overhead.
const promptTokens = encode(messages[0]!.content).length;

function client(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: 'test', maxRetries: 0 });
}

function post(
  baseUrl: string,
  body: string | Buffer,
  path = '/chat/completions',
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const url = path === '/chat/completions' ? chatUrl(baseUrl) : new URL(baseUrl.replace('/v1', '') + path);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (t: string) => (text += t));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('simulator over HTTP (tiny preset, worker thread)', () => {
  let sim: RunningSimulator;
  let openai: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator({
      preset: 'tiny',
      overrides: { step_base_ms: 2, step_per_seq_ms: 0, max_body_bytes: 4096 },
    });
    openai = client(sim.baseUrl);
  });
  afterAll(() => sim.stop());

  it('baseUrl is http://127.0.0.1:PORT/v1', () => {
    expect(sim.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(sim.config.slots).toBe(4);
  });

  it("runs in a worker thread, not on the caller's thread", async () => {
    const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as {
      status: string;
      main_thread: boolean;
      pid: number;
    };
    expect(health).toMatchObject({ status: 'ok', main_thread: false, pid: process.pid });
  });

  it('streams exactly max_tokens content chunks after a role-only first chunk, then finish_reason "length"', async () => {
    const stream = await openai.chat.completions.create({ model: 'anything', messages, stream: true, max_tokens: 7 });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(content).toHaveLength(7);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.every((c) => c.usage === undefined || c.usage === null)).toBe(true);
    expect(chunks.every((c) => c.model === 'anything' && c.object === 'chat.completion.chunk')).toBe(true);
  });

  it('sends the usage chunk (choices: []) only when stream_options.include_usage is true', async () => {
    const stream = await openai.chat.completions.create({
      model: 'm',
      messages,
      stream: true,
      max_completion_tokens: 5,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: 5, total_tokens: promptTokens + 5 });
    expect(chunks.filter((c) => c.choices[0]?.delta.content)).toHaveLength(5);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
  });

  it('the wire format ends with data: [DONE]', async () => {
    const r = await rawChat(sim.baseUrl, { messages, stream: true, max_tokens: 3 });
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(r.events.at(-1)).toBe('[DONE]');
    expect(r.contentTokens).toBe(3);
  });

  it('uses default_max_tokens when the request sets no limit, ending with "stop"', async () => {
    const r = await openai.chat.completions.create({ model: 'm', messages });
    expect(r.object).toBe('chat.completion');
    expect(r.usage).toMatchObject({
      completion_tokens: 16,
      prompt_tokens: promptTokens,
      total_tokens: promptTokens + 16,
    });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.choices[0]!.message.content!.split(' ')).toHaveLength(16);
  });

  it('non-streaming output length = max_tokens', async () => {
    const r = await openai.chat.completions.create({ model: 'm', messages, max_tokens: 9 });
    expect(r.usage?.completion_tokens).toBe(9);
    expect(r.choices[0]!.finish_reason).toBe('length');
  });

  it('lists the model and answers /health', async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['sim-llm']);
  });

  it.each([
    ['invalid JSON', '{"messages": [', 'invalid_json', null],
    ['a body that is not an object', '[1, 2]', 'invalid_type', null],
    ['missing messages', '{"model": "m"}', 'missing_required_parameter', 'messages'],
    ['empty messages', '{"messages": []}', 'empty_array', 'messages'],
    ['messages of the wrong type', '{"messages": "hi"}', 'invalid_type', 'messages'],
    ['a message that is not an object', '{"messages": [3]}', 'invalid_type', 'messages[0]'],
    ['a message without a role', '{"messages": [{"content": "hi"}]}', 'missing_required_parameter', 'messages[0].role'],
    ['an unknown role', '{"messages": [{"role": "robot", "content": "hi"}]}', 'invalid_value', 'messages[0].role'],
    [
      'content of the wrong type',
      '{"messages": [{"role": "user", "content": 5}]}',
      'invalid_type',
      'messages[0].content',
    ],
    [
      'a user message without content',
      '{"messages": [{"role": "user"}]}',
      'missing_required_parameter',
      'messages[0].content',
    ],
    [
      'stream of the wrong type',
      '{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
      'invalid_type',
      'stream',
    ],
    [
      'max_tokens of the wrong type',
      '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "10"}',
      'invalid_type',
      'max_tokens',
    ],
    [
      'max_tokens below 1',
      '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}',
      'integer_below_min_value',
      'max_tokens',
    ],
    [
      'stream_options without stream',
      '{"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": true}}',
      'invalid_value',
      'stream_options',
    ],
    [
      'model of the wrong type',
      '{"model": 3, "messages": [{"role": "user", "content": "hi"}]}',
      'invalid_type',
      'model',
    ],
  ])('400 for %s, with an OpenAI-style error body', async (_name, body, code, param) => {
    const r = await post(sim.baseUrl, body);
    expect(r.status).toBe(400);
    const parsed = JSON.parse(r.text) as {
      error: { message: string; type: string; param: string | null; code: string | null };
    };
    expect(parsed.error).toMatchObject({ type: 'invalid_request_error', code, param });
    expect(parsed.error.message.length).toBeGreaterThan(10);
  });

  it('400 for an oversized body', async () => {
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10_000) }] });
    const r = await post(sim.baseUrl, big);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.code).toBe('request_too_large');
  });

  it('the SDK sees a 400 as BadRequestError, and the server keeps serving', async () => {
    await expect(openai.chat.completions.create({ model: 'm', messages: [] })).rejects.toMatchObject({ status: 400 });
    const r = await openai.chat.completions.create({ model: 'm', messages, max_tokens: 2 });
    expect(r.usage?.completion_tokens).toBe(2);
  });

  it('404 for an unknown path and 405 for a wrong method, as JSON', async () => {
    const a = await post(sim.baseUrl, '{}', '/v1/embeddings');
    expect(a.status).toBe(404);
    expect(JSON.parse(a.text).error.code).toBe('unknown_url');
    const b = await fetch(sim.baseUrl + '/chat/completions');
    expect(b.status).toBe(405);
  });

  it('an HTTP/1.0 client (no chunked encoding) gets a well-formed, close-delimited stream', async () => {
    const { port } = new URL(sim.baseUrl);
    const body = JSON.stringify({ messages, stream: true, max_tokens: 3 });
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (t: string) => (data += t));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.write(
        `POST /v1/chat/completions HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    });
    const [head, payload] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head).not.toMatch(/transfer-encoding/i);
    const events = payload!.split('\n\n').filter(Boolean);
    expect(events).toHaveLength(1 + 3 + 1 + 1);
    expect(events.at(-1)).toBe('data: [DONE]');
  });

  it('echoes x-request-id', async () => {
    const r = await rawChat(sim.baseUrl, { messages, max_tokens: 1 }, { requestId: 'req-42' });
    expect(r.headers['x-request-id']).toBe('req-42');
  });
});

describe('queue_limit', () => {
  it('beyond slots + queue_limit: 429 with Retry-After; cancelled requests free their places', async () => {
    const sim = await startSimulator({
      preset: 'tiny',
      overrides: { slots: 1, queue_limit: 1, step_base_ms: 20, step_per_seq_ms: 0, retry_after_s: 3 },
    });
    try {
      const controllers = [new AbortController(), new AbortController()];
      const openStream = (signal: AbortSignal) =>
        fetch(sim.baseUrl + '/chat/completions', {
          method: 'POST',
          signal,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ messages, stream: true, max_tokens: 1000 }),
        });
      // Streaming headers are sent on arrival, so awaiting them means the server counted the request.
      const a = await openStream(controllers[0]!.signal);
      const b = await openStream(controllers[1]!.signal);
      expect([a.status, b.status]).toEqual([200, 200]);
      const rejected = await client(sim.baseUrl)
        .chat.completions.create({ model: 'm', messages, max_tokens: 1 })
        .then(
          () => null,
          (err: unknown) => err as { status: number; headers: Headers },
        );
      expect(rejected?.status).toBe(429);
      expect(rejected?.headers.get('retry-after')).toBe('3');
      const raw = await rawChat(sim.baseUrl, { messages, max_tokens: 1 });
      expect(raw.status).toBe(429);
      expect(JSON.parse(raw.body).error.code).toBe('queue_full');
      for (const c of controllers) c.abort();
      await Promise.allSettled([a.text(), b.text()]);
      await new Promise((r) => setTimeout(r, 100));
      const after = await rawChat(sim.baseUrl, { messages, max_tokens: 1 });
      expect(after.status).toBe(200);
    } finally {
      await sim.stop();
    }
  });
});

describe('lifecycle', () => {
  it('stop() closes stalled streams, resolves, and is idempotent', async () => {
    const sim = await startSimulator({ preset: 'tiny', overrides: { stall_after_headers: 1 } });
    let headers = 0;
    const pending = [1, 2, 3].map(() =>
      rawChat(sim.baseUrl, { messages, stream: true }, { idleTimeoutMs: 30_000, onHeaders: () => headers++ }),
    );
    // Stop once all three are stalled after their headers, however slow the machine.
    expect(await waitUntil(() => headers === 3, 30_000, 10), 'three stalled streams').toBe(true);
    const t0 = performance.now();
    await Promise.all([sim.stop(), sim.stop()]);
    await sim.stop();
    const results = await Promise.all(pending);
    expect(performance.now() - t0).toBeLessThan(10_000);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.failure).toBe('reset');
      expect(r.contentTokens).toBe(0);
    }
    await expect(fetch(sim.baseUrl + '/models')).rejects.toThrow();
  });

  it('runs in a child process with mode "process"', async () => {
    const sim = await startSimulator({ preset: 'tiny', mode: 'process' });
    try {
      const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as { pid: number };
      expect(health.pid).not.toBe(process.pid);
      const r = await client(sim.baseUrl).chat.completions.create({ model: 'm', messages, max_tokens: 4 });
      expect(r.usage?.completion_tokens).toBe(4);
    } finally {
      await sim.stop();
    }
    await expect(fetch(sim.baseUrl + '/models')).rejects.toThrow();
  });

  it('a child-process simulator whose parent exits without stopping it ends quietly', async () => {
    // The parent starts a simulator and exits at once; the child shares its stderr, so the pipe closes only
    // when both have ended, and everything the child printed on the way out is in it.
    const script = `import { startSimulator } from ${JSON.stringify(new URL('../../src/sim/index.ts', import.meta.url).href)};
const sim = await startSimulator({ preset: 'tiny', mode: 'process' });
process.stdout.write(sim.baseUrl + '\\n', () => process.exit(0));`;
    const file = join(mkdtempSync(join(tmpdir(), 'fc-sim-parent-')), 'parent.mts');
    writeFileSync(file, script);
    const child = spawn(process.execPath, [fileURLToPath(new URL('../../bin/run-ts.mjs', import.meta.url)), file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 15_000);
      child.stderr.on('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    expect(out).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1/);
    expect(closed).toBe(true);
    expect(err).toBe('');
    await expect(fetch(out.trim() + '/models')).rejects.toThrow();
  });

  it('rejects with a clear error when the port is taken (the worker cannot listen)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startSimulator({ preset: 'tiny', port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolError);
      expect(err).toMatchObject({ code: 'io_error' });
      expect((err as Error).message).toMatch(/port is in use/);
    } finally {
      blocker.close();
    }
  });

  it('rejects a bad preset or override before starting anything', async () => {
    await expect(startSimulator({ preset: 'tinny' })).rejects.toThrow(/did you mean "tiny"/);
    await expect(startSimulator({ overrides: ['slots=0'] })).rejects.toThrow(/slots: must be >= 1/);
  });

  it('rejects when the ground-truth file cannot be opened', async () => {
    await expect(startSimulator({ preset: 'tiny', groundTruthPath: '/nonexistent-dir/gt.jsonl' })).rejects.toThrow(
      /failed to start.*ENOENT/,
    );
  });
});
