// The ground-truth log agrees with what the client saw, joined on x-request-id.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_TYPES } from '../../src/sim/config.ts';
import { startSimulator, type GroundTruthRecord } from '../../src/sim/index.ts';
import { sleep, waitUntil } from '../reliability/helpers.ts';
import { classify, pool, rawChat } from './raw-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-gt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readLog(path: string): Map<string, GroundTruthRecord> {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return new Map(lines.map((l) => JSON.parse(l) as GroundTruthRecord).map((r) => [r.id, r]));
}

describe('ground truth', () => {
  it('one line per request; fault, token counts and timings agree with the client', async () => {
    const path = join(dir, 'faults.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: path,
      overrides: {
        ...Object.fromEntries(FAULT_TYPES.map((f) => [f, 0.04])),
        step_base_ms: 3,
        step_per_seq_ms: 0.5,
        seed: 9,
      },
    });
    const n = 120;
    const results = await pool(n, 8, (i) =>
      rawChat(
        sim.baseUrl,
        { messages: [{ role: 'user', content: `request ${i}` }], stream: i % 3 !== 0, max_tokens: 6 },
        { requestId: `gt-${i}`, idleTimeoutMs: 1000 },
      ),
    );
    await sim.stop();
    const log = readLog(path);
    expect(log.size).toBe(n);
    let faulted = 0;
    results.forEach((client, i) => {
      const server = log.get(`gt-${i}`)!;
      const seen = classify(client);
      expect(server.fault, `gt-${i}`).toBe(seen);
      if (server.fault) faulted++;
      expect(server.prompt_tokens).toBe(encode(`request ${i}`).length);
      expect(server.stream).toBe(i % 3 !== 0);
      expect(server.status).toBe(client.status);
      // A non-streamed body that broke or is not a completion carries no count the client could see.
      if (server.stream || seen === null || seen === 'truncated' || seen === 'empty_completion') {
        expect(server.output_tokens, `gt-${i}`).toBe(client.contentTokens);
      }
      expect(server.arrival_ms).toBeLessThanOrEqual(server.end_ms);
      if (server.headers_ms !== null)
        expect(client.headersAtMs!).toBeGreaterThanOrEqual(server.headers_ms - server.arrival_ms);
      if (server.stream && server.first_token_ms !== null && client.firstContentAtMs !== null) {
        // The client's clock starts before the request is sent, the server's when it arrives.
        expect(client.firstContentAtMs).toBeGreaterThanOrEqual(server.first_token_ms - server.arrival_ms);
        expect(server.admitted_ms!).toBeGreaterThanOrEqual(server.arrival_ms);
        expect(server.first_token_ms).toBeGreaterThan(server.admitted_ms!);
      }
      if (seen === null) expect(server.outcome).toBe('completed');
      else expect(server.outcome).toBe('fault');
    });
    expect(faulted).toBeGreaterThan(10);
  });

  it('the openai SDK client: TTFT ≥ server first token − arrival, tokens match usage', async () => {
    const path = join(dir, 'sdk.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: path,
      overrides: { queue_limit: 0, slots: 2 },
    });
    const openai = new OpenAI({ baseURL: sim.baseUrl, apiKey: 'test', maxRetries: 0 });
    const seen = await pool(6, 3, async (i) => {
      const t0 = performance.now();
      try {
        const stream = await openai.chat.completions.create(
          {
            model: 'm',
            messages: [{ role: 'user', content: 'hello' }],
            stream: true,
            max_tokens: 5,
            stream_options: { include_usage: true },
          },
          { headers: { 'x-request-id': `sdk-${i}` } },
        );
        let ttft: number | null = null;
        let usage: number | null = null;
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content) ttft ??= performance.now() - t0;
          if (chunk.usage) usage = chunk.usage.completion_tokens;
        }
        return { id: `sdk-${i}`, ttft, usage, status: 200 };
      } catch (err) {
        return { id: `sdk-${i}`, ttft: null, usage: null, status: (err as { status: number }).status };
      }
    });
    await sim.stop();
    const log = readLog(path);
    for (const s of seen) {
      const r = log.get(s.id)!;
      expect(r.status).toBe(s.status);
      if (s.status === 429) {
        expect(r.outcome).toBe('rejected');
        continue;
      }
      expect(r.output_tokens).toBe(s.usage);
      expect(s.ttft!).toBeGreaterThanOrEqual(r.first_token_ms! - r.arrival_ms);
    }
    expect(seen.filter((s) => s.status === 200).length).toBeGreaterThan(0);
  });

  it('a stalled request is logged when stop() closes it', async () => {
    const path = join(dir, 'stall.jsonl');
    const sim = await startSimulator({ preset: 'tiny', groundTruthPath: path, overrides: { stall_after_headers: 1 } });
    let stalled = false;
    const pending = rawChat(
      sim.baseUrl,
      { messages: [{ role: 'user', content: 'x' }], stream: true },
      { requestId: 'stalled', idleTimeoutMs: 20_000, onHeaders: () => (stalled = true) },
    );
    // Stalled after its headers, then at least 100 ms more before stop() closes it.
    expect(await waitUntil(() => stalled, 30_000, 10), 'the stalled stream').toBe(true);
    await sleep(150);
    await sim.stop();
    await pending;
    const r = readLog(path).get('stalled')!;
    expect(r).toMatchObject({
      fault: 'stall_after_headers',
      status: 200,
      output_tokens: 0,
      admitted_ms: null,
      outcome: 'fault',
    });
    expect(r.end_ms - r.arrival_ms).toBeGreaterThanOrEqual(100);
  });
});
