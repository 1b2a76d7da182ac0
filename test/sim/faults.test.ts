// Fault injection: every fault shows up on the wire as itself, at its configured rate, reproducibly for a seed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAULT_TYPES, type FaultType } from '../../src/sim/config.ts';
import { startSimulator, type GroundTruthRecord } from '../../src/sim/index.ts';
import { classify, pool, rawChat, type RawResult } from './raw-client.ts';

const messages = [{ role: 'user', content: 'hi' }];
const EACH = 0.08;
// A stall is recognized after this much silence; generous, so a busy machine's pauses are not taken for stalls.
const IDLE_MS = 1000;
const allFaults = (seed: number) => ({
  ...Object.fromEntries(FAULT_TYPES.map((f) => [f, EACH])),
  seed,
  slots: 64,
  step_base_ms: 2,
  step_per_seq_ms: 0,
  jitter: 0,
  error_message: '<script>alert("sim")</script>',
});

function tally(kinds: (FaultType | null | 'unexplained')[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of kinds) counts[String(k)] = (counts[String(k)] ?? 0) + 1;
  return counts;
}

describe('fault injection', () => {
  it.each([true, false])(
    'each fault appears at its configured rate (binomial tolerance), stream=%s',
    async (stream) => {
      const sim = await startSimulator({ preset: 'tiny', overrides: allFaults(11) });
      const agent = new Agent({ keepAlive: true, maxSockets: 32 });
      const n = 400;
      try {
        const results = await pool(n, 25, () =>
          rawChat(sim.baseUrl, { messages, stream, max_tokens: 4 }, { agent, idleTimeoutMs: IDLE_MS }),
        );
        const counts = tally(results.map(classify));
        expect(counts.unexplained).toBeUndefined();
        // 4.5 standard deviations either side: a false alarm about once in 10^5 runs (and the schedule is seeded anyway).
        const sd = Math.sqrt(n * EACH * (1 - EACH));
        for (const f of FAULT_TYPES) {
          expect(counts[f] ?? 0, f).toBeGreaterThanOrEqual(Math.floor(n * EACH - 4.5 * sd));
          expect(counts[f] ?? 0, f).toBeLessThanOrEqual(Math.ceil(n * EACH + 4.5 * sd));
        }
        const normal = results.filter((r) => classify(r) === null);
        expect(normal.length).toBe(counts.null);
        for (const r of normal) {
          expect(r.contentTokens).toBe(4);
          expect(r.finishReason).toBe('length');
          if (stream) expect(r.sawDone).toBe(true);
        }
      } finally {
        agent.destroy();
        await sim.stop();
      }
    },
  );

  it('each fault looks as documented on the wire', async () => {
    const sim = await startSimulator({ preset: 'tiny', overrides: allFaults(5) });
    try {
      const results = await pool(300, 25, () =>
        rawChat(sim.baseUrl, { messages, stream: true, max_tokens: 6 }, { idleTimeoutMs: IDLE_MS }),
      );
      const byKind = new Map<string, RawResult[]>();
      for (const r of results) byKind.set(String(classify(r)), [...(byKind.get(String(classify(r))) ?? []), r]);
      for (const r of byKind.get('http_429') ?? []) expect(r.headers['retry-after']).toBe('1');
      for (const r of byKind.get('http_503') ?? []) expect(r.headers['retry-after']).toBe('1');
      for (const r of [...(byKind.get('http_500') ?? []), ...(byKind.get('http_503') ?? [])]) {
        expect(JSON.parse(r.body).error.message).toBe('<script>alert("sim")</script>');
      }
      for (const r of byKind.get('reset_mid_stream') ?? []) {
        expect(r.contentTokens).toBeGreaterThanOrEqual(1);
        expect(r.contentTokens).toBeLessThanOrEqual(5);
      }
      for (const r of byKind.get('stall_after_headers') ?? []) expect(r.events).toHaveLength(1); // the role chunk
      for (const r of byKind.get('malformed_chunk') ?? []) {
        expect(r.events).toContain('{not json');
        expect(r.contentTokens).toBe(6);
        expect(r.sawDone).toBe(true);
      }
      for (const r of byKind.get('error_event') ?? []) {
        const event = JSON.parse(r.events.at(-2)!) as { error: { message: string } };
        expect(event.error.message).toBe('<script>alert("sim")</script>');
        expect(r.finishReason).toBeNull();
        expect(r.sawDone).toBe(true);
      }
      for (const r of byKind.get('truncated') ?? []) {
        expect(r.sawDone).toBe(false);
        expect(r.failure).toBeNull();
        expect(r.contentTokens).toBeGreaterThanOrEqual(1);
      }
      for (const r of byKind.get('empty_completion') ?? []) {
        expect(r.sawDone).toBe(true);
        expect(r.finishReason).toBe('stop');
      }
      expect([...byKind.keys()].sort()).toEqual([...FAULT_TYPES, 'null'].sort());
    } finally {
      await sim.stop();
    }
  });

  it('the same seed and request order give the same fault sequence; another seed does not', async () => {
    // The server's ground truth names the fault it drew for each request, whatever the client made of it.
    const dir = mkdtempSync(join(tmpdir(), 'sim-seed-'));
    const sequence = async (seed: number, name: string) => {
      const path = join(dir, `${name}.jsonl`);
      const sim = await startSimulator({ preset: 'tiny', groundTruthPath: path, overrides: allFaults(seed) });
      try {
        for (let i = 0; i < 80; i++) {
          await rawChat(
            sim.baseUrl,
            { messages, stream: i % 2 === 0, max_tokens: 3 },
            { idleTimeoutMs: 200, requestId: `r${i}` },
          );
        }
      } finally {
        await sim.stop();
      }
      const records = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as GroundTruthRecord);
      records.sort((x, y) => Number(x.id.slice(1)) - Number(y.id.slice(1)));
      expect(records.map((r) => r.id)).toEqual(Array.from({ length: 80 }, (_, i) => `r${i}`));
      return records.map((r) => r.fault);
    };
    try {
      const [a, b, c] = await Promise.all([sequence(21, 'a'), sequence(21, 'b'), sequence(22, 'c')]);
      expect(new Set(a).size).toBeGreaterThan(5);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
