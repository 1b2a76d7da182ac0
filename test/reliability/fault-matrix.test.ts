// Every fault the simulator can inject lands in its error class (DESIGN.md §3), checked request by request
// against the simulator's ground truth (joined on x-request-id): first through the real transport, then
// through a whole run, where each failure must also be counted in its own stage and kept out of the
// latency distributions of the successful requests.
import { transportConfig } from '../../src/controller/transport-config.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { makeRedactor } from '../../src/util/secrets.ts';
import { systemClock } from '../../src/util/clock.ts';
import { createTransport } from '../../src/load/transport.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { FAULT_TYPES, startSimulator, type FaultType, type GroundTruthRecord } from '../../src/sim/index.ts';
import { tempDir } from '../helpers.ts';
import { loopbackServer, readGroundTruth, readJsonlStrict, type Rec } from './helpers.ts';

const RETRY_AFTER_S = 7;
// Generous: a normal request takes ~50 ms; only the injected stalls may reach it.
const FIRST_TOKEN_MS = 1000;

/** The error class each injected fault must produce (null = success). */
function expectedClass(fault: FaultType | null): string | null {
  switch (fault) {
    case null:
      return null;
    case 'http_500':
    case 'http_503':
      return 'http_5xx';
    case 'http_429':
      return 'http_429';
    case 'reset_before_headers':
    case 'reset_mid_stream':
      return 'connection_reset';
    case 'stall_after_headers':
      return 'timeout_first_token';
    case 'malformed_chunk':
      return 'malformed_chunk';
    case 'error_event':
      return 'stream_error_event';
    case 'truncated':
      return 'stream_truncated';
    case 'empty_completion':
      return 'empty_response';
  }
}

const allFaults = (each: number) => Object.fromEntries(FAULT_TYPES.map((f) => [f, each]));

async function pool<T>(n: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

/** Checks one record against the server's view of the same request. */
function checkRecord(rec: Rec | RequestRecord, gt: GroundTruthRecord, stream: boolean, maxTokens: number): void {
  const where = `${rec.id} (fault ${gt.fault}, stream ${stream})`;
  expect(rec.errorClass, where).toBe(expectedClass(gt.fault));
  expect(rec.ok, where).toBe(gt.fault === null);
  if (!rec.ok) {
    expect(rec.error, where).toBeTruthy();
    expect(rec.error!.length, where).toBeLessThanOrEqual(500);
  }
  expect(rec.end, where).toBeGreaterThanOrEqual(rec.t0);
  switch (gt.fault) {
    case null:
      expect(rec.status, where).toBe(200);
      expect(rec.outputTokens, where).toBe(maxTokens);
      if (stream) {
        expect(rec.contentChunks, where).toBe(maxTokens);
        expect(rec.firstContentAt, where).not.toBeNull();
      }
      break;
    case 'http_429':
    case 'http_503':
      expect(rec.status, where).toBe(gt.fault === 'http_429' ? 429 : 503);
      expect(rec.retryAfterS, where).toBe(RETRY_AFTER_S);
      break;
    case 'http_500':
      expect(rec.status, where).toBe(500);
      expect(rec.retryAfterS, where).toBeNull();
      break;
    case 'reset_before_headers':
      expect(rec.errorPhase, where).toBe('before_headers');
      expect(rec.headersAt, where).toBeNull();
      expect(rec.status, where).toBeNull();
      break;
    case 'reset_mid_stream':
      expect(rec.headersAt, where).not.toBeNull();
      // The reset may discard bytes not yet read, never add any.
      expect(rec.contentChunks, where).toBeLessThanOrEqual(gt.output_tokens);
      if (rec.contentChunks > 0) {
        // Partial timings are kept in the record.
        expect(rec.errorPhase, where).toBe('mid_stream');
        expect(rec.firstContentAt, where).not.toBeNull();
        expect(rec.lastContentAt, where).toBeGreaterThanOrEqual(rec.firstContentAt!);
      } else {
        expect(rec.errorPhase, where).toBe('before_first_token');
      }
      break;
    case 'stall_after_headers':
      // The tool's own first-token timer fired: headers came, no content, and it waited the full timeout.
      expect(rec.headersAt, where).not.toBeNull();
      expect(rec.firstContentAt, where).toBeNull();
      expect(rec.errorPhase, where).toBe('before_first_token');
      expect(rec.end - rec.t0, where).toBeGreaterThanOrEqual(FIRST_TOKEN_MS - 1);
      break;
    case 'malformed_chunk':
    case 'error_event':
    case 'truncated':
      expect(rec.status, where).toBe(200);
      if (stream) {
        expect(rec.contentChunks, where).toBeGreaterThanOrEqual(1);
        expect(rec.firstContentAt, where).not.toBeNull();
      }
      break;
    case 'empty_completion':
      expect(rec.status, where).toBe(200);
      expect(rec.contentChunks, where).toBe(0);
      break;
  }
}

// Concurrent: the tests are separate runs whose checks do not depend on measured latency (lax health, lax SLOs).
describe.concurrent('fault matrix', () => {
  it('the real transport classifies every injected fault, streaming and not, as the ground truth says', async () => {
    const dir = tempDir('fc-faults-');
    const gtPath = join(dir, 'gt.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      mode: 'process',
      groundTruthPath: gtPath,
      overrides: {
        ...allFaults(0.08),
        seed: 3,
        slots: 64,
        step_base_ms: 2,
        step_per_seq_ms: 0,
        jitter: 0,
        retry_after_s: RETRY_AFTER_S,
      },
    });
    const maxTokens = 8;
    const records = new Map<boolean, RequestRecord[]>();
    try {
      for (const stream of [true, false]) {
        const text = `target: {base_url: "${sim.baseUrl}", model: sim-llm}
request:
  messages: [{role: user, content: hi}]
  max_tokens: ${maxTokens}
  stream: ${stream}
  timeouts: {first_token: ${FIRST_TOKEN_MS}ms, idle: ${FIRST_TOKEN_MS}ms, total: 10s}
ramp: {concurrency: [1]}
slo: ["success_rate >= 10%"]
`;
        const { profile } = await loadProfile(join(dir, `p-${stream}.yaml`), { text, env: {} });
        const origin = performance.now();
        const now = () => performance.now() - origin;
        const transport = createTransport({
          config: transportConfig(profile, sim.baseUrl, 'EMPTY'),
          clock: systemClock(origin),
          redact: makeRedactor([]),
        });
        try {
          // Sequential batches per mode: the seeded schedule then gives each mode the same faults every run.
          const recs = await pool(120, 12, (i) =>
            transport.send({
              id: `m${stream ? 's' : 'j'}-${i}`,
              stage: 0,
              phase: 'window',
              worker: i % 12,
              payload: 0,
              t0: now(),
            }),
          );
          records.set(stream, recs);
          expect(transport.inFlight()).toBe(0);
        } finally {
          transport.close();
        }
      }
    } finally {
      await sim.stop();
    }
    const gt = readGroundTruth(gtPath);
    for (const [stream, recs] of records) {
      const seen = new Set<string>();
      for (const rec of recs) {
        const g = gt.get(rec.id);
        expect(g, `ground truth of ${rec.id}`).toBeDefined();
        checkRecord(rec, g!, stream, maxTokens);
        seen.add(String(g!.fault));
      }
      // Every fault type (and plain success) occurred in this mode.
      expect([...seen].sort(), `stream ${stream}`).toEqual([...FAULT_TYPES, 'null'].sort());
      if (stream) {
        // A mid-stream reset after some content keeps its partial timings.
        const partial = recs.filter((r) => gt.get(r.id)!.fault === 'reset_mid_stream' && r.contentChunks > 0);
        expect(partial.length).toBeGreaterThan(0);
      }
    }
    // One server request per record: nothing retried, nothing lost.
    expect(gt.size).toBe(240);
  });

  it('a run under faults: each failure in its class and stage, none in the latency distributions, nothing hangs', async () => {
    const dir = tempDir('fc-faultrun-');
    const gtPath = join(dir, 'gt.jsonl');
    const sim = await startSimulator({
      preset: 'tiny',
      mode: 'process',
      groundTruthPath: gtPath,
      overrides: {
        ...allFaults(0.04),
        seed: 9,
        slots: 8,
        step_base_ms: 5,
        step_per_seq_ms: 0,
        jitter: 0,
        retry_after_s: RETRY_AFTER_S,
      },
    });
    const maxTokens = 10;
    const text = `name: faultrun
target: {base_url: "${sim.baseUrl}", model: sim-llm}
request:
  messages: [{role: user, content: hi}]
  max_tokens: ${maxTokens}
  timeouts: {first_token: ${FIRST_TOKEN_MS}ms, idle: ${FIRST_TOKEN_MS}ms, total: 10s}
ramp:
  concurrency: [2, 4]
  warmup: 300ms
  stage: {duration: 1500ms}
  drain: 5s
slo: ["success_rate >= 10%"]
verdict: {confirm_failures: false, bisect: false, max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}
stop: {max_error_rate: 100%}
`;
    let result;
    try {
      const { profile } = await loadProfile(join(dir, 'p.yaml'), { text, env: {} });
      result = await runCapacitySearch({ profile, env: {}, outDir: join(dir, 'out') });
    } finally {
      await sim.stop();
    }
    expect(result.capacity.stopReason).toBe('max_reached');
    const { rows, tornLast } = readJsonlStrict<Rec>(join(result.runDir, 'requests.jsonl'));
    expect(tornLast).toBe(false);
    const gt = readGroundTruth(gtPath);
    expect(gt.size).toBe(rows.length);
    const faultsSeen = new Set<string>();
    for (const rec of rows) {
      const g = gt.get(rec.id);
      expect(g, `ground truth of ${rec.id}`).toBeDefined();
      checkRecord(rec, g!, true, maxTokens);
      faultsSeen.add(String(g!.fault));
      // The stage a record belongs to is the one that sent it (the id carries the sending stage).
      expect(rec.stage, rec.id).toBe(Number(rec.id.split('-').at(-2)));
    }
    expect(faultsSeen.size).toBeGreaterThanOrEqual(8);

    const summary = JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8'));
    expect(summary.stages.length).toBeGreaterThanOrEqual(2);
    let judgedFailures = 0;
    for (const s of summary.stages) {
      const judged = rows.filter((r) => r.stage === s.index && r.phase === 'window');
      const ok = judged.filter((r) => r.ok);
      expect(s.requests, `stage ${s.index}`).toBe(judged.length);
      expect(s.ok, `stage ${s.index}`).toBe(ok.length);
      const byClass: Record<string, number> = {};
      for (const r of judged) if (r.errorClass) byClass[r.errorClass] = (byClass[r.errorClass] ?? 0) + 1;
      expect(s.errors, `stage ${s.index}`).toEqual(byClass);
      judgedFailures += judged.length - ok.length;
      // Only successful requests enter the latency distributions.
      expect(s.ttft_ms.count, `stage ${s.index}`).toBe(ok.length);
      expect(s.e2e_ms.count, `stage ${s.index}`).toBe(ok.length);
      const ttft = ok.map((r) => r.firstContentAt! - r.t0);
      expect(s.ttft_ms.max).toBeCloseTo(Math.max(...ttft), 2);
      expect(s.e2e_ms.max).toBeCloseTo(Math.max(...ok.map((r) => r.end - r.t0)), 2);
    }
    expect(judgedFailures).toBeGreaterThan(0);
  });

  it("the tool's own timers and aborts: headers, idle gap, total time, refused connection, abortAll", async () => {
    const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
    let abortChunksWritten: () => void = () => undefined;
    const abortStreaming = new Promise<void>((resolve) => (abortChunksWritten = resolve));
    const server = await loopbackServer((req, res) => {
      const mode = req.headers['x-request-id']!.toString().split('-')[0];
      if (mode === 'noheaders') return; // never answers
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (mode === 'idle' || mode === 'abort') {
        res.write(chunk('a'));
        res.write(chunk('b'), () => mode === 'abort' && abortChunksWritten()); // then silence
      } else if (mode === 'total') {
        const timer = setInterval(() => res.write(chunk('x')), 50); // never idle, never ends
        res.on('close', () => clearInterval(timer));
      }
    });
    const dir = tempDir('fc-timers-');
    const profileText = (timeouts: string) => `target: {base_url: "${server.url}", model: m}
request:
  messages: [{role: user, content: hi}]
  timeouts: ${timeouts}
ramp: {concurrency: [1]}
slo: ["success_rate >= 10%"]
`;
    const text = profileText('{first_token: 600ms, idle: 300ms, total: 900ms}');
    const { profile } = await loadProfile(join(dir, 'p.yaml'), { text, env: {} });
    const origin = performance.now();
    const now = () => performance.now() - origin;
    const transport = createTransport({
      config: transportConfig(profile, server.url, 'EMPTY'),
      clock: systemClock(origin),
      redact: makeRedactor([]),
    });
    // abortAll ends every request of its transport: the interrupt case gets one of its own, with timers that
    // cannot fire before the abort however slow the machine.
    const patient = await loadProfile(join(dir, 'patient.yaml'), {
      text: profileText('{first_token: 60s, idle: 60s, total: 60s}'),
      env: {},
    });
    const interruptible = createTransport({
      config: transportConfig(patient.profile, server.url, 'EMPTY'),
      clock: systemClock(origin),
      redact: makeRedactor([]),
    });
    const send = (id: string, t = transport) =>
      t.send({ id, stage: 0, phase: 'window', worker: 0, payload: 0, t0: now() });
    try {
      const aborted = send('abort-1', interruptible);
      // Abort once both chunks are on the wire and have had time to be read: mid-stream, not before headers.
      void abortStreaming.then(() =>
        setTimeout(() => interruptible.abortAll('aborted', 'aborted after interrupt grace period'), 500),
      );
      const [noHeaders, idle, total, abortedRec] = await Promise.all([
        send('noheaders-1'),
        send('idle-1'),
        send('total-1'),
        aborted,
      ]);
      expect([noHeaders.errorClass, noHeaders.errorPhase, noHeaders.headersAt]).toEqual([
        'timeout_headers',
        'before_headers',
        null,
      ]);
      expect(noHeaders.end - noHeaders.t0).toBeGreaterThanOrEqual(599);
      expect([idle.errorClass, idle.errorPhase, idle.contentChunks]).toEqual(['timeout_idle', 'mid_stream', 2]);
      expect(idle.end - idle.lastContentAt!).toBeGreaterThanOrEqual(299);
      expect([total.errorClass, total.errorPhase]).toEqual(['timeout_total', 'mid_stream']);
      expect(total.end - total.t0).toBeGreaterThanOrEqual(899);
      expect(total.contentChunks).toBeGreaterThan(1);
      expect([abortedRec.errorClass, abortedRec.errorPhase, abortedRec.contentChunks, abortedRec.error]).toEqual([
        'aborted',
        'mid_stream',
        2,
        'aborted after interrupt grace period',
      ]);
      for (const r of [noHeaders, idle, total, abortedRec]) expect(r.ok).toBe(false);
      expect(transport.inFlight() + interruptible.inFlight()).toBe(0);
    } finally {
      transport.close();
      interruptible.close();
      await server.close();
    }
    // A port nothing listens on (and no pooled keep-alive socket leads to): refused, before headers.
    const unused = await loopbackServer();
    await unused.close();
    const t2 = createTransport({
      config: transportConfig(profile, unused.url, 'EMPTY'),
      clock: systemClock(origin),
      redact: makeRedactor([]),
    });
    try {
      const refused = await t2.send({ id: 'refused-1', stage: 0, phase: 'window', worker: 0, payload: 0, t0: now() });
      expect([refused.errorClass, refused.headersAt, refused.status]).toEqual(['connection_refused', null, null]);
    } finally {
      t2.close();
    }
  });
});
