// Real traffic shapes end to end: whole runs of the tool (real openai SDK, loopback HTTP) against the built-in
// simulator, checked request by request against the simulator's ground truth (joined on x-request-id): synthetic
// prompts of an exact token count, a ShareGPT file of mixed lengths, the completions endpoint, a reasoning model's
// TTFO, and conversations whose later turns hit the prefix cache (docs/simulator.md gives the formulas).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { runCapacitySearch, type RunResult } from '../../src/controller/run.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { loadProfile } from '../../src/profile/load.ts';
import type { Profile } from '../../src/profile/types.ts';
import { startSimulator, type GroundTruthRecord } from '../../src/sim/index.ts';
import { textOfTokens } from '../sim/prompts.ts';
import { tempDir, writeProfile } from '../helpers.ts';

const readLines = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);

interface Run {
  result: RunResult;
  profile: Profile;
  records: RequestRecord[];
  /** The simulator's line of each record, by record. */
  gt: (r: RequestRecord) => GroundTruthRecord;
  maxLateMs: number;
}

/**
 * One stage of `requests` requests at concurrency `c` against a simulator (preset tiny with `sim` overrides), the
 * profile's request section being `request`; `files` are written next to the profile first.
 */
async function run(o: {
  sim: Record<string, unknown>;
  request: string;
  c?: number;
  requests: number;
  slo?: string;
  files?: Record<string, string>;
  workers?: number;
}): Promise<Run> {
  const dir = tempDir('fc-traffic-');
  const gtPath = join(dir, 'gt.jsonl');
  const sim = await startSimulator({ preset: 'tiny', groundTruthPath: gtPath, overrides: o.sim as never });
  let maxLateMs: number;
  let result: RunResult;
  let profile: Profile;
  try {
    for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), text);
    const file = writeProfile(
      dir,
      'p.yaml',
      `name: traffic
target: {base_url: "${sim.baseUrl}", model: sim-llm}
request:
${o.request}
  timeouts: {first_token: 20s, idle: 10s, total: 60s}
ramp: {concurrency: [${o.c ?? 1}], warmup: 0s, stage: {requests: ${o.requests}}, drain: 5s}
slo: [${o.slo ?? '"success_rate >= 99%"'}]
verdict: {max_extensions: 0, confirm_failures: false, bisect: false}
workers: ${o.workers ?? 1}
`,
    );
    ({ profile } = await loadProfile(file, { env: {} }));
    result = await runCapacitySearch({ profile, env: {}, outDir: dir });
    const health = (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as { maxLateMs: number };
    maxLateMs = health.maxLateMs;
  } finally {
    await sim.stop();
  }
  const records = readLines<RequestRecord>(join(result.runDir, 'requests.jsonl'));
  const byId = new Map(readLines<GroundTruthRecord>(gtPath).map((g) => [g.id, g]));
  expect(byId.size).toBe(records.length);
  const gt = (r: RequestRecord) => {
    const g = byId.get(r.id);
    expect(g, r.id).toBeDefined();
    return g!;
  };
  return { result, profile, records, gt, maxLateMs };
}

/** Tokens of chat messages as the simulator counts them: each message's content, no per-message overhead. */
const messageTokens = (messages: readonly { content: string }[]) =>
  messages.reduce((n, m) => n + encode(m.content).length, 0);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe('synthetic prompts', () => {
  it.each([
    { endpoint: 'chat', input: 128, prefix: 0 },
    { endpoint: 'chat', input: 1024, prefix: 0 },
    { endpoint: 'completions', input: 1024, prefix: 100 },
  ])(
    '$endpoint: $input tokens (+ a prefix of $prefix) arrive with exactly that many, counted by the server',
    async ({ endpoint, input, prefix }) => {
      const { records, gt } = await run({
        sim: { slots: 4 },
        c: 2,
        requests: 12,
        request: `  endpoint: ${endpoint}
  synthetic: {input_tokens: ${input}, output_tokens: 8, prefix_tokens: ${prefix}}`,
      });
      expect(records.length).toBeGreaterThanOrEqual(12);
      for (const r of records) {
        expect(r.ok, r.error ?? '').toBe(true);
        expect(gt(r).prompt_tokens).toBe(input + prefix);
        expect(r.promptTokens).toBe(input + prefix);
        // Requested and received output tokens, both as the server saw them.
        expect(gt(r).max_tokens).toBe(8);
        expect(r.requestedOutputTokens).toBe(8);
        expect(r.outputTokens).toBe(gt(r).output_tokens);
      }
      // A fresh prompt per request: a real server's prefix cache cannot serve one request from another.
      expect(new Set(records.map((r) => r.payload)).size).toBe(records.length);
    },
  );

  it('draws lengths from {mean, stddev, min, max}, each request exact', async () => {
    const { records, gt } = await run({
      sim: { slots: 8 },
      c: 4,
      requests: 40,
      request: `  synthetic: {input_tokens: {mean: 300, stddev: 80, min: 150, max: 450}, output_tokens: {mean: 6, stddev: 2, min: 2, max: 10}}`,
    });
    const lengths = records.map((r) => gt(r).prompt_tokens!);
    for (const [i, r] of records.entries()) {
      expect(r.promptTokens).toBe(lengths[i]);
      expect(lengths[i]).toBeGreaterThanOrEqual(150);
      expect(lengths[i]).toBeLessThanOrEqual(450);
      expect(gt(r).max_tokens).toBe(r.requestedOutputTokens);
      expect(r.requestedOutputTokens).toBeGreaterThanOrEqual(2);
      expect(r.requestedOutputTokens).toBeLessThanOrEqual(10);
    }
    expect(new Set(lengths).size).toBeGreaterThan(10);
  });
});

/** A ShareGPT record: a system turn sometimes, then human/gpt turns. */
const shareGpt = (i: number, human: string, gpt: string, system?: string) => ({
  id: `conv-${i}`,
  conversations: [
    ...(system ? [{ from: 'system', value: system }] : []),
    { from: 'human', value: human },
    { from: 'gpt', value: gpt },
    { from: 'human', value: 'And then?' },
    { from: 'gpt', value: 'That is all.' },
  ],
});

describe('a ShareGPT dataset', () => {
  it('runs a file of mixed lengths; every prompt matches the ground truth, and max_tokens: dataset the reply', async () => {
    const texts = [
      'Hi',
      'Explain paged attention — in détail, with ünïcode and emoji 🎉, please.',
      `Summarise this:\n${textOfTokens(700, 3)}`,
      `${textOfTokens(150, 4)}\n\nWhat does it say about ${'"quotes"'} and \\backslashes\\?`,
      textOfTokens(2000, 5),
    ];
    const records = texts.map((t, i) =>
      shareGpt(i, t, textOfTokens(3 + 7 * i, 10 + i), i % 2 ? 'You are terse.' : undefined),
    );
    const {
      records: recs,
      gt,
      profile,
    } = await run({
      sim: { slots: 4 },
      c: 2,
      requests: 20,
      files: { 'sharegpt.json': JSON.stringify(records, null, 2) },
      request: `  dataset: {path: sharegpt.json, format: sharegpt}
  max_tokens: dataset`,
    });
    const payloads = profile.request.payloads;
    expect(payloads).toHaveLength(texts.length);
    const seen = new Set<number>();
    for (const r of recs) {
      expect(r.ok, r.error ?? '').toBe(true);
      const p = payloads[r.payload]!;
      // The prompt is the first human turn with the system turn before it; the recorded reply sets max_tokens.
      expect(p.messages.at(-1)!.role).toBe('user');
      expect(texts).toContain(p.messages.at(-1)!.content);
      const expected = messageTokens(p.messages);
      expect(gt(r).prompt_tokens).toBe(expected);
      expect(r.promptTokens).toBe(expected);
      expect(gt(r).max_tokens).toBe(encode(p.reply!).length);
      expect(r.outputTokens).toBe(gt(r).output_tokens);
      seen.add(expected);
    }
    // Mixed lengths, from one token to thousands.
    expect(Math.min(...seen)).toBeLessThan(10);
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(2000);
  });
});

describe('the completions endpoint', () => {
  it('streams text; TTFT is taken at the first text, not at the headers the server sends on arrival', async () => {
    const delay = 150;
    const { records, gt, result } = await run({
      sim: { slots: 4, first_token_delay_ms: delay, step_base_ms: 10, step_per_seq_ms: 0, jitter: 0 },
      c: 2,
      requests: 10,
      request: `  endpoint: completions
  messages: [{role: user, content: "Once upon a time"}]
  max_tokens: 5`,
    });
    for (const r of records) {
      expect(r.ok, r.error ?? '').toBe(true);
      const g = gt(r);
      expect(g.prompt_tokens).toBe(encode('Once upon a time').length);
      const serverTtft = g.first_token_ms! - g.arrival_ms;
      expect(serverTtft).toBeGreaterThanOrEqual(delay);
      // Headers came on arrival; the first text only after the delay: TTFT is the text's, never the headers'.
      expect(r.headersAt! - r.t0).toBeLessThan(serverTtft);
      expect(r.firstContentAt! - r.t0).toBeGreaterThanOrEqual(serverTtft - 0.01);
      expect(r.firstOutputAt).toBe(r.firstContentAt);
      expect(r.firstReasoningAt).toBeNull();
      expect(r.contentChunks).toBe(5);
      expect(r.outputTokens).toBe(5);
    }
    const stage = result.summary.stages[0]!;
    expect(stage.ttft_ms.p50!).toBeGreaterThanOrEqual(delay);
    expect(stage.ttfo_ms).toEqual(stage.ttft_ms);
  });
});

describe('a reasoning model', () => {
  it('ttfo − ttft ≈ K decode steps; reasoning tokens from usage; rules on ttfo', async () => {
    const K = 8;
    const step = 25;
    const { records, gt, result, maxLateMs } = await run({
      sim: { slots: 4, reasoning_tokens: K, step_base_ms: step, step_per_seq_ms: 0, jitter: 0 },
      c: 1,
      requests: 10,
      slo: '"p99(ttfo) < 5s", "p99(ttft) < 5s"',
      request: `  messages: [{role: user, content: "Think first."}]
  max_tokens: 20`,
    });
    const gaps: number[] = [];
    for (const r of records) {
      expect(r.ok, r.error ?? '').toBe(true);
      expect(gt(r).reasoning_tokens).toBe(K);
      expect(r.reasoningTokens).toBe(K);
      expect(r.outputTokens).toBe(20);
      // TTFT: the first token of either kind, the reasoning's; TTFO: the first answer token, K steps later.
      expect(r.firstContentAt).toBe(r.firstReasoningAt);
      gaps.push(r.firstOutputAt! - r.firstContentAt!);
    }
    // Each step is K × step in model time; the engine's steps are late by at most what it reports.
    const m = median(gaps);
    expect(m).toBeGreaterThanOrEqual(K * step - maxLateMs - 2);
    expect(m).toBeLessThanOrEqual(K * step + maxLateMs + step);
    const stage = result.summary.stages[0]!;
    expect(stage.ttfo_ms.p50! - stage.ttft_ms.p50!).toBeGreaterThan(K * step * 0.5);
    expect(stage.reasoning_tokens_avg).toBe(K);
    expect(stage.rules.map((x) => x.rule)).toEqual(['p99(ttfo) < 5s', 'p99(ttft) < 5s']);
    expect(stage.rules[0]!.value).toBeCloseTo(stage.ttfo_ms.p99!, 3);
  });
});

const BLOCK = 16;
const PREFILL_MS_PER_1K = 200;

describe('multi-turn conversations with the prefix cache', () => {
  it('later turns resend the answers, hit the cache, and have a lower TTFT, as the formula predicts', async () => {
    // Document QA: a long first question, then short follow-ups; each record's turns are played in order.
    const questions = ['What is the gist?', 'Say more about the middle.'];
    const records = Array.from({ length: 6 }, (_, i) => ({
      conversations: [
        { from: 'human', value: textOfTokens(1200, 100 + i) },
        { from: 'gpt', value: 'recorded' },
        { from: 'human', value: questions[0] },
        { from: 'gpt', value: 'recorded' },
        { from: 'human', value: questions[1] },
        { from: 'gpt', value: 'recorded' },
      ],
    }));
    const {
      records: recs,
      gt,
      result,
      maxLateMs,
    } = await run({
      sim: {
        slots: 4,
        prefix_cache: true,
        prefill_ms_per_1k_tokens: PREFILL_MS_PER_1K,
        step_base_ms: 5,
        step_per_seq_ms: 0,
        jitter: 0,
      },
      c: 1,
      requests: 12,
      files: { 'qa.jsonl': records.map((r) => JSON.stringify(r)).join('\n') },
      request: `  dataset: qa.jsonl
  conversation: {turns: dataset}
  max_tokens: 12`,
    });
    expect(recs.map((r) => r.turn)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    const first: number[] = [];
    const later: number[] = [];
    let previous: GroundTruthRecord | null = null;
    for (const r of recs) {
      expect(r.ok, r.error ?? '').toBe(true);
      const g = gt(r);
      const prompt = g.prompt_tokens!;
      if (r.turn === 1) {
        expect(prompt).toBe(1200);
        expect(g.cached_tokens).toBe(0);
        first.push(r.firstContentAt! - r.t0);
      } else {
        // The history is the previous turn's prompt and the server's own answer: all cached but a partial block.
        const question = encode(questions[r.turn! - 2]!).length;
        const history = prompt - question;
        const answer = history - previous!.prompt_tokens!;
        expect(answer).toBeGreaterThan(0);
        expect(answer).toBeLessThanOrEqual(2 * previous!.output_tokens!);
        expect(g.cached_tokens).toBe(BLOCK * Math.floor(history / BLOCK));
        expect(r.cachedTokens).toBe(g.cached_tokens);
        later.push(r.firstContentAt! - r.t0);
      }
      // The server's own TTFT: step(1) + prefill of the uncached tokens, late by at most what the engine reports.
      const predicted = 5 + (PREFILL_MS_PER_1K * (prompt - g.cached_tokens!)) / 1000;
      expect(g.first_token_ms! - g.admitted_ms!).toBeGreaterThanOrEqual(predicted - 1.5);
      expect(g.first_token_ms! - g.admitted_ms!).toBeLessThanOrEqual(predicted + maxLateMs + 1.5);
      // The tool's TTFT holds the server's.
      expect(r.firstContentAt! - r.t0).toBeGreaterThanOrEqual(g.first_token_ms! - g.arrival_ms - 0.01);
      previous = g;
    }
    // First turns prefill 1,200 tokens (~240 ms), later ones fewer than 40 (~8 ms).
    expect(median(later)).toBeLessThan(median(first) - 150);
    const stage = result.summary.stages[0]!;
    expect(stage.ttft_first_turn_ms.count).toBe(first.length);
    expect(stage.ttft_later_turns_ms.count).toBe(later.length);
    expect(stage.ttft_later_turns_ms.p50!).toBeLessThan(stage.ttft_first_turn_ms.p50!);
  });

  it('on worker threads: synthetic conversations of N turns, each slot its own, later turns cached', async () => {
    const { records, gt } = await run({
      sim: { slots: 8, prefix_cache: true, step_base_ms: 5, step_per_seq_ms: 0, jitter: 0 },
      c: 4,
      workers: 2,
      requests: 24,
      request: `  synthetic: {input_tokens: 200, output_tokens: 10, prefix_tokens: 64}
  conversation: {turns: 3}`,
    });
    expect(new Set(records.map((r) => r.worker))).toEqual(new Set([0, 1, 2, 3]));
    for (const r of records) {
      expect(r.ok, r.error ?? '').toBe(true);
      const g = gt(r);
      // A first turn finds the shared prefix (4 blocks) cached, once any conversation has sent it.
      if (r.turn === 1) expect([264, [0, 64].includes(g.cached_tokens!)]).toEqual([g.prompt_tokens, true]);
      else {
        // The history (prompt and answer of every earlier turn) and a new message of 200 tokens.
        expect(g.prompt_tokens!).toBeGreaterThan(264 + 200 * (r.turn! - 1));
        expect(g.cached_tokens).toBe(16 * Math.floor((g.prompt_tokens! - 200) / 16));
      }
    }
    // Every slot played whole conversations in order: turns 1, 2, 3, 1, ...
    for (const w of [0, 1, 2, 3]) {
      const turns = records.filter((r) => r.worker === w).map((r) => r.turn);
      turns.forEach((t, i) => expect(t).toBe((i % 3) + 1));
    }
  });
});
