// GET /metrics: vLLM's metric names in Prometheus text, scraped during load and checked against the engine's
// state and the ground truth.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type GroundTruthRecord, type RunningSimulator } from '../../src/sim/index.ts';
import { textOfTokens } from './prompts.ts';
import { rawChat, type RawResult } from './raw-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Scrape {
  contentType: string;
  types: Map<string, string>;
  /** `name{labels}` → value */
  samples: Map<string, number>;
}

async function scrape(sim: RunningSimulator): Promise<Scrape> {
  const res = await fetch(sim.baseUrl.replace(/\/v1$/, '/metrics'));
  expect(res.status).toBe(200);
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of (await res.text()).trim().split('\n')) {
    const type = /^# TYPE (\S+) (gauge|counter)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    else if (!line.startsWith('#')) {
      const sample = /^(\S+\{[^}]*\}) (\S+)$/.exec(line);
      expect(sample, line).not.toBeNull();
      samples.set(sample![1]!, Number(sample![2]));
    }
  }
  return { contentType: res.headers.get('content-type') ?? '', types, samples };
}

const M = '{model_name="sim-llm"}';
const value = (s: Scrape, name: string, labels = M) => s.samples.get(name + labels);

/** Scrapes until `done` holds (the streams are admitted at the next step, a few ms away), at most 3 s. */
async function scrapeUntil(sim: RunningSimulator, done: (s: Scrape) => boolean): Promise<Scrape> {
  const deadline = performance.now() + 3000;
  for (;;) {
    const s = await scrape(sim);
    if (done(s) || performance.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('GET /metrics', () => {
  it('running and waiting follow the engine; the counters add up to the ground truth', async () => {
    const gtPath = join(dir, 'gt.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: gtPath,
      overrides: {
        slots: 4,
        step_base_ms: 5,
        step_per_seq_ms: 0,
        jitter: 0,
        prefix_cache: true,
        kv_tokens_per_slot: 1000,
      },
    });
    const idle = await scrape(sim);
    expect(idle.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(Object.fromEntries(idle.types)).toEqual({
      'vllm:num_requests_running': 'gauge',
      'vllm:num_requests_waiting': 'gauge',
      'vllm:kv_cache_usage_perc': 'gauge',
      'vllm:prefix_cache_queries_total': 'counter',
      'vllm:prefix_cache_hits_total': 'counter',
      'vllm:request_success_total': 'counter',
      'vllm:prompt_tokens_total': 'counter',
      'vllm:generation_tokens_total': 'counter',
    });
    expect([...idle.samples.keys()].every((k) => k.includes('model_name="sim-llm"'))).toBe(true);
    expect(value(idle, 'vllm:num_requests_running')).toBe(0);
    expect(value(idle, 'vllm:kv_cache_usage_perc')).toBe(0);

    // Long streams (500 tokens of 5 ms): they hold their slots while the scrapes run.
    const controller = new AbortController();
    const content = textOfTokens(100);
    const open = (i: number) =>
      rawChat(
        sim.baseUrl,
        { messages: [{ role: 'user', content }], stream: true, max_tokens: 500 },
        { requestId: `long-${i}`, signal: controller.signal, idleTimeoutMs: 10_000 },
      );
    const streams: Promise<RawResult>[] = [0, 1, 2, 3].map(open);
    const atSlots = await scrapeUntil(sim, (s) => value(s, 'vllm:num_requests_running') === 4);
    expect(value(atSlots, 'vllm:num_requests_running')).toBe(4);
    expect(value(atSlots, 'vllm:num_requests_waiting')).toBe(0);
    // Tokens held: 4 prompts of 100 and what they generated so far, over 4 slots × 1000.
    const usage = value(atSlots, 'vllm:kv_cache_usage_perc')!;
    expect(usage).toBeGreaterThanOrEqual(0.1);
    expect(usage).toBeLessThanOrEqual((4 * 100 + 4 * 500) / 4000);
    const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as Record<string, number>;
    expect(health).toMatchObject({ active: 4, waiting: 0 });

    streams.push(...[4, 5, 6].map(open));
    const above = await scrapeUntil(sim, (s) => value(s, 'vllm:num_requests_waiting') === 3);
    expect(value(above, 'vllm:num_requests_running')).toBe(4);
    expect(value(above, 'vllm:num_requests_waiting')).toBe(3);

    controller.abort();
    await Promise.all(streams);
    const drained = await scrapeUntil(
      sim,
      (s) => value(s, 'vllm:num_requests_running') === 0 && value(s, 'vllm:num_requests_waiting') === 0,
    );
    expect(value(drained, 'vllm:kv_cache_usage_perc')).toBe(0);

    // Completed requests, the same prompt twice (a prefix-cache hit), one of them with the default length.
    for (const [i, maxTokens] of [3, 5, undefined].entries()) {
      const r = await rawChat(
        sim.baseUrl,
        { messages: [{ role: 'user', content: textOfTokens(64, 7) }], max_tokens: maxTokens },
        { requestId: `done-${i}` },
      );
      expect(r.status).toBe(200);
    }
    const after = await scrape(sim);
    expect(await sim.flushGroundTruth()).toBe(true);
    await sim.stop();
    const records = readFileSync(gtPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as GroundTruthRecord);
    expect(records).toHaveLength(10);
    const admitted = records.filter((r) => r.admitted_ms !== null);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(value(after, 'vllm:request_success_total', '{finished_reason="length",model_name="sim-llm"}')).toBe(2);
    expect(value(after, 'vllm:request_success_total', '{finished_reason="stop",model_name="sim-llm"}')).toBe(1);
    expect(value(after, 'vllm:prompt_tokens_total')).toBe(sum(admitted.map((r) => r.prompt_tokens!)));
    expect(value(after, 'vllm:generation_tokens_total')).toBe(sum(records.map((r) => r.output_tokens)));
    expect(value(after, 'vllm:prefix_cache_queries_total')).toBe(sum(admitted.map((r) => r.prompt_tokens!)));
    expect(value(after, 'vllm:prefix_cache_hits_total')).toBe(sum(admitted.map((r) => r.cached_tokens!)));
    expect(value(after, 'vllm:prefix_cache_hits_total')).toBeGreaterThan(0);
  });
});
