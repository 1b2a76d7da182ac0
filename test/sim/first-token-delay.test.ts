// first_token_delay_ms over real loopback HTTP: a fixed TTFT (prefill done elsewhere) that stalls no other stream.
// The server's ground truth gives exact lower bounds (nobody joins the queue before its delay ends, a first token
// comes at least a step after admission); upper bounds use the model's own numbers plus the tolerances the other
// simulator tests use, never the machine's speed alone.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_TYPES, type FaultType } from '../../src/sim/config.ts';
import { startSimulator, type GroundTruthRecord, type RunningSimulator } from '../../src/sim/index.ts';
import { classify, median, pool, rawChat, type RawResult } from './raw-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-ftd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const messages = [{ role: 'user', content: 'hi' }];
// Ground-truth times are rounded to the microsecond: differences can be off by 0.001 ms.
const ROUNDING = 0.01;
// Node timers have millisecond resolution: a step timer may fire up to 1 ms before its model time.
const TIMER_RESOLUTION = 1;

/**
 * The server's TTFT can never be shorter than this. Steps follow model time: a request whose delay ended while a
 * step's timer was late joins the step that began at the model boundary (as an arrival would), so its first token may
 * come less than a step after it joined, by at most that lateness (beyond max(step, 5 ms) the engine resynchronizes).
 */
const minServerTtft = (delay: number, step: number) => delay + step - Math.max(step, 5) - TIMER_RESOLUTION;

function readLog(path: string): Map<string, GroundTruthRecord> {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return new Map(lines.map((l) => JSON.parse(l) as GroundTruthRecord).map((r) => [r.id, r]));
}

interface Health {
  active: number;
  waiting: number;
  delayed: number;
  admitted: number;
  steps: number;
}

async function health(sim: RunningSimulator): Promise<Health> {
  return (await (await fetch(sim.baseUrl.replace(/\/v1$/, '/health'))).json()) as Health;
}

/** Polls /health until `ok` holds (bounded: the server's close handling is asynchronous, not slow). */
async function waitForHealth(sim: RunningSimulator, ok: (h: Health) => boolean): Promise<Health> {
  const until = performance.now() + 10_000;
  for (;;) {
    const h = await health(sim);
    if (ok(h) || performance.now() > until) return h;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const gapsOf = (r: RawResult) => r.contentAtMs.slice(1).map((t, i) => t - r.contentAtMs[i]!);

describe('first_token_delay_ms over HTTP', () => {
  it('TTFT = delay + one to two steps; ITL stays one step', async () => {
    const STEP = 20;
    const DELAY = 200;
    const TOKENS = 10;
    const path = join(dir, 'ttft.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: path,
      overrides: {
        slots: 8,
        step_base_ms: STEP,
        step_per_seq_ms: 0,
        prefill_ms_per_1k_tokens: 0,
        jitter: 0,
        first_token_delay_ms: DELAY,
      },
    });
    let results: RawResult[];
    try {
      results = await pool(12, 4, (i) =>
        rawChat(sim.baseUrl, { messages, stream: true, max_tokens: TOKENS }, { requestId: `t-${i}` }),
      );
    } finally {
      await sim.stop();
    }
    const log = readLog(path);
    const serverTtfts: number[] = [];
    results.forEach((client, i) => {
      const server = log.get(`t-${i}`)!;
      expect(client.contentTokens).toBe(TOKENS);
      expect(server).toMatchObject({ outcome: 'completed', output_tokens: TOKENS, status: 200 });
      // Headers and the role chunk at once; the request joins the queue only after its delay.
      expect(server.headers_ms!).toBeLessThan(server.admitted_ms!);
      expect(server.admitted_ms! - server.arrival_ms).toBeGreaterThanOrEqual(DELAY - ROUNDING);
      expect(server.first_token_ms!).toBeGreaterThan(server.admitted_ms!);
      expect(server.first_token_ms! - server.arrival_ms).toBeGreaterThanOrEqual(minServerTtft(DELAY, STEP));
      serverTtfts.push(server.first_token_ms! - server.arrival_ms);
      expect(client.firstContentAtMs!).toBeGreaterThanOrEqual(server.first_token_ms! - server.arrival_ms);
    });
    const clientTtft = median(results.map((r) => r.firstContentAtMs!));
    expect(median(serverTtfts)).toBeLessThan(DELAY + 2 * STEP + 100);
    expect(clientTtft).toBeGreaterThanOrEqual(DELAY + STEP / 2);
    expect(clientTtft).toBeLessThan(DELAY + 2 * STEP + 100);
    // Steps follow model time, so the median gap between tokens is the step, delay or not.
    const itl = median(results.flatMap(gapsOf));
    expect(itl).toBeGreaterThan(STEP * 0.5);
    expect(itl).toBeLessThan(STEP * 1.5);
  });

  it('requests arriving during many active streams do not stall them', async () => {
    const STEP = 20;
    const DELAY = 400;
    const TOKENS = 60;
    const sim = await startSimulator({
      preset: 'tiny',
      overrides: {
        slots: 200,
        step_base_ms: STEP,
        step_per_seq_ms: 0,
        prefill_ms_per_1k_tokens: 0,
        jitter: 0,
        first_token_delay_ms: DELAY,
      },
    });
    try {
      const body = { messages, stream: true, max_tokens: TOKENS };
      const old = Array.from({ length: 40 }, () => rawChat(sim.baseUrl, body));
      // Once the 40 decode (their own delay is over), 40 more arrive, one per step: each spends its delay while the
      // 40 decode, and joins the batch in a different step.
      await waitForHealth(sim, (h) => h.active === 40);
      const late: Promise<RawResult>[] = [];
      for (let i = 0; i < 40; i++) {
        late.push(rawChat(sim.baseUrl, body));
        await new Promise((r) => setTimeout(r, STEP));
      }
      const [oldResults, lateResults] = [await Promise.all(old), await Promise.all(late)];
      for (const r of [...oldResults, ...lateResults]) expect(r.contentTokens).toBe(TOKENS);
      for (const r of lateResults) expect(r.firstContentAtMs!).toBeGreaterThanOrEqual(minServerTtft(DELAY, STEP));
      // A prefill charged to the admitting steps would stretch a step by ~DELAY at every admission, for every stream:
      // here no stream sees more than one long pause (a busy machine's hiccup), and none is late by a delay in total.
      for (const r of oldResults) {
        const gaps = gapsOf(r);
        expect(gaps.filter((g) => g >= DELAY / 2).length).toBeLessThanOrEqual(1);
        expect(r.contentAtMs.at(-1)! - r.contentAtMs[0]!).toBeLessThan((TOKENS - 1) * STEP + DELAY);
      }
      const itl = median(oldResults.flatMap(gapsOf));
      expect(itl).toBeGreaterThan(STEP * 0.5);
      expect(itl).toBeLessThan(STEP * 1.5);
    } finally {
      await sim.stop();
    }
  });

  it('a request in its delay counts against queue_limit; a client that leaves during the delay is logged client_closed and never admitted', async () => {
    const DELAY = 300;
    const path = join(dir, 'closed.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: path,
      overrides: {
        slots: 1,
        queue_limit: 0,
        step_base_ms: 5,
        step_per_seq_ms: 0,
        jitter: 0,
        first_token_delay_ms: DELAY,
      },
    });
    try {
      // A: a stream whose client leaves as soon as the headers (sent on arrival) arrive, inside its delay.
      const abortA = new AbortController();
      const a = rawChat(
        sim.baseUrl,
        { messages, stream: true, max_tokens: 5 },
        { requestId: 'a', signal: abortA.signal, onHeaders: () => headersA() },
      );
      let headersA!: () => void;
      await new Promise<void>((r) => (headersA = r));
      expect((await health(sim)).delayed).toBe(1);
      // B: 1 slot + queue_limit 0, and A holds the place during its delay: a 429 at once.
      const b = await rawChat(sim.baseUrl, { messages, max_tokens: 1 }, { requestId: 'b' });
      expect(b.status).toBe(429);
      expect(JSON.parse(b.body).error).toMatchObject({
        code: 'queue_full',
        message: expect.stringMatching(/first-token delay/),
      });
      abortA.abort();
      expect((await a).failure).toBe('reset');
      await waitForHealth(sim, (h) => h.delayed === 0);
      // D: a non-streaming request (no headers before its end) whose client leaves during the delay.
      const abortD = new AbortController();
      const d = rawChat(sim.baseUrl, { messages, max_tokens: 5 }, { requestId: 'd', signal: abortD.signal });
      await waitForHealth(sim, (h) => h.delayed === 1);
      abortD.abort();
      expect((await d).failure).toBe('reset');
      const afterClose = await waitForHealth(sim, (h) => h.delayed === 0);
      expect(afterClose).toMatchObject({ delayed: 0, waiting: 0, active: 0, admitted: 0, steps: 0 });
      // The place is free again; C goes through its own delay and completes.
      const c = await rawChat(sim.baseUrl, { messages, stream: true, max_tokens: 2 }, { requestId: 'c' });
      expect(c.status).toBe(200);
      expect(c.contentTokens).toBe(2);
      // Past A's and D's ready times: neither ever took a slot (so nothing was written for them after the close).
      expect(await health(sim)).toMatchObject({ delayed: 0, waiting: 0, active: 0, admitted: 1 });
    } finally {
      await sim.stop();
    }
    const log = readLog(path);
    expect(log.get('a')).toMatchObject({
      outcome: 'client_closed',
      status: 200,
      stream: true,
      admitted_ms: null,
      first_token_ms: null,
      output_tokens: 0,
      fault: null,
    });
    expect(log.get('a')!.headers_ms).not.toBeNull();
    expect(log.get('b')).toMatchObject({ outcome: 'rejected', status: 429, admitted_ms: null });
    expect(log.get('c')).toMatchObject({ outcome: 'completed', status: 200, output_tokens: 2 });
    expect(log.get('c')!.admitted_ms! - log.get('c')!.arrival_ms).toBeGreaterThanOrEqual(DELAY - ROUNDING);
    expect(log.get('d')).toMatchObject({
      outcome: 'client_closed',
      status: null,
      stream: false,
      headers_ms: null,
      admitted_ms: null,
      output_tokens: 0,
    });
  });

  it('faults: refusals, resets before headers and stalls happen at once; the others after the delay', async () => {
    const DELAY = 300;
    const STEP = 2;
    const path = join(dir, 'faults.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      groundTruthPath: path,
      overrides: {
        ...Object.fromEntries(FAULT_TYPES.map((f) => [f, 0.08])),
        seed: 3,
        slots: 64,
        step_base_ms: STEP,
        step_per_seq_ms: 0,
        jitter: 0,
        first_token_delay_ms: DELAY,
      },
    });
    let results: RawResult[];
    try {
      // The idle timeout that recognizes a stall must exceed the delay, or every delayed request would look stalled.
      results = await pool(150, 30, (i) =>
        rawChat(
          sim.baseUrl,
          { messages, stream: true, max_tokens: 4 },
          { requestId: `f-${i}`, idleTimeoutMs: DELAY + 2000 },
        ),
      );
    } finally {
      await sim.stop();
    }
    const log = readLog(path);
    const atOnce: readonly (FaultType | null)[] = [
      'http_500',
      'http_503',
      'http_429',
      'reset_before_headers',
      'stall_after_headers',
    ];
    const seen = new Set<FaultType | null>();
    results.forEach((client, i) => {
      const server = log.get(`f-${i}`)!;
      seen.add(server.fault);
      expect(classify(client), `f-${i}`).toBe(server.fault);
      if (atOnce.includes(server.fault)) {
        expect(server.admitted_ms).toBeNull();
        if (server.headers_ms !== null) expect(server.headers_ms - server.arrival_ms).toBeLessThan(DELAY);
      } else {
        expect(server.admitted_ms! - server.arrival_ms, `f-${i}`).toBeGreaterThanOrEqual(DELAY - ROUNDING);
        if (server.first_token_ms !== null)
          expect(server.first_token_ms - server.arrival_ms).toBeGreaterThanOrEqual(minServerTtft(DELAY, STEP));
        expect(server.end_ms - server.arrival_ms).toBeGreaterThanOrEqual(DELAY);
      }
    });
    expect(seen.size).toBe(FAULT_TYPES.length + 1);
  });

  it('rejects a bad value before starting anything, in the usual style', async () => {
    await expect(startSimulator({ preset: 'tiny', overrides: ['first_token_delay_ms=-1'] })).rejects.toThrow(
      /first_token_delay_ms: must be >= 0, got -1/,
    );
    await expect(startSimulator({ preset: 'tiny', overrides: { first_token_delay: 100 } })).rejects.toThrow(
      /did you mean "first_token_delay_ms"/,
    );
  });
});
