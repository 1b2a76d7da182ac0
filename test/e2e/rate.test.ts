// Rate stages against the built-in simulator over real HTTP: latency from the scheduled time is the simulator's own
// view plus the measured send lag (joined with its ground truth on x-request-id), the report speaks in req/s, and
// a rate stage on two worker threads sends exactly its one schedule between them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { arrivalSchedule, stageSeed } from '../../src/load/arrivals.ts';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { GROUND_TRUTH_FILE } from '../../src/controller/ttft-overhead.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { loadProfile } from '../../src/profile/load.ts';
import type { GroundTruthRecord } from '../../src/sim/index.ts';
import { tempDir, writeProfile } from '../helpers.ts';

const readLines = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);

/** numpy/R type-7 quantile, written independently of the tool's own code. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.ceil(h)] ?? s[lo]!) - s[lo]!);
}

// 4 slots × 10 tokens × 10 ms steps: the simulator completes 40 requests/s. At 20/s nothing waits long; at 50/s a
// queue grows inside the simulator for the whole stage. The health limit is lifted to 1 s: on a busy shared machine
// the send lag alone could invalidate a stage, and the health check is tested on a fake clock.
const profileText = (workers: number) => `name: rate-e2e
target:
  simulator: {preset: tiny, slots: 4, step_base_ms: 10, step_per_seq_ms: 0, prefill_ms_per_1k_tokens: 0, jitter: 0}
request:
  messages: [{role: user, content: hello}]
  max_tokens: 10
  timeouts: {first_token: 10s, idle: 5s, total: 20s}
ramp:
  rate: [20, 50]
  warmup: 500ms
  stage: {duration: 3s}
  drain: 10s
slo: ["p99(ttft) < 30s", "success_rate >= 90%"]
verdict: {max_extensions: 0, bisect: false, confirm_failures: false, max_event_loop_delay: 1s}
goodput: {ttft: 250ms}
workers: ${workers}
`;

async function rateRun(workers: number) {
  const dir = tempDir('fc-rate-e2e-');
  const { profile } = await loadProfile(writeProfile(dir, 'p.yaml', profileText(workers)), { env: {} });
  const result = await runCapacitySearch({ profile, env: {}, outDir: dir });
  const records = readLines<RequestRecord>(join(result.runDir, 'requests.jsonl'));
  return { profile, result, records };
}

describe('rate stages against the simulator', () => {
  it('latency from the scheduled time = the simulator’s own view + the measured send lag', async () => {
    const { result, records } = await rateRun(1);
    const stages = result.summary.stages;
    expect(stages.map((s) => [s.offered_rate, s.kind, s.verdict])).toEqual([
      [20, 'ramp', 'PASS'],
      [50, 'ramp', 'PASS'],
    ]);
    const gt = new Map(readLines<GroundTruthRecord>(join(result.runDir, GROUND_TRUTH_FILE)).map((g) => [g.id, g]));
    const origin = result.summary.clock_origin_epoch_ms;
    for (const s of stages) {
      const ok = records.filter((r) => r.stage === s.index && r.phase === 'window' && r.ok);
      expect(ok.length).toBeGreaterThan(40);
      const residue = ok.map((r) => {
        const g = gt.get(r.id)!;
        expect(g, r.id).toBeDefined();
        const lag = r.t0 - r.scheduledAt!;
        const fromScheduled = r.firstContentAt! - r.scheduledAt!;
        const server = g.first_token_ms! - g.arrival_ms;
        // The request reached the simulator after it was sent, which was `lag` after it was scheduled.
        expect(g.arrival_ms - (origin + r.scheduledAt!), r.id).toBeGreaterThanOrEqual(lag - 0.01);
        expect(lag, r.id).toBeGreaterThanOrEqual(0);
        // What is left over is the loopback and the client's own read path: never negative, a few ms.
        const rest = fromScheduled - lag - server;
        expect(rest, r.id).toBeGreaterThanOrEqual(-0.01);
        return rest;
      });
      expect(quantile(residue, 0.5)).toBeLessThan(20);
      // The summary's TTFT is the one from the scheduled time; its service TTFT the one from t0.
      const sched = ok.map((r) => r.firstContentAt! - r.scheduledAt!);
      const service = ok.map((r) => r.firstContentAt! - r.t0);
      expect(s.ttft_ms.p99!).toBeCloseTo(quantile(sched, 0.99), 2);
      expect(s.service_ttft_ms.p99!).toBeCloseTo(quantile(service, 0.99), 2);
      expect(s.send_lag_ms.p99!).toBeCloseTo(
        quantile(
          ok.map((r) => r.t0 - r.scheduledAt!),
          0.99,
        ),
        2,
      );
    }
    // Above the simulator's 40 requests/s the queue grows: TTFT climbs while the throughput stays at 40.
    const [low, high] = stages;
    expect(high!.ttft_ms.p99!).toBeGreaterThan(4 * low!.ttft_ms.p99!);
    expect(high!.achieved_rate!).toBeLessThan(44);
    expect(high!.goodput_ratio!).toBeLessThan(low!.goodput_ratio!);
    expect(result.capacity).toMatchObject({ rate: 50, concurrency: null, stopReason: 'max_reached' });
    const rebuilt = rebuildSummary(result.runDir);
    expect(rebuilt.summary.stages).toEqual(result.summary.stages);
    const html = readFileSync(join(result.runDir, 'report.html'), 'utf8');
    expect(html).toContain('id="chart-rate"');
    expect(html).toContain('Offered rate, requests/s (measured at)');
  }, 60_000);

  it('on two worker threads, each sends every other arrival of the one schedule', async () => {
    const { profile, result, records } = await rateRun(2);
    for (const s of result.summary.stages) {
      const mine = records.filter((r) => r.stage === s.index);
      const spec = {
        rate: s.offered_rate!,
        arrival: 'poisson' as const,
        burstiness: 1,
        seed: stageSeed(profile.request.seed, s.index),
      };
      // The schedule's offsets from the stage start (unknown here): the earliest arrival is its first.
      const offsets = arrivalSchedule(spec, 3500);
      const start = Math.min(...mine.map((r) => r.scheduledAt!)) - offsets[0]!;
      const schedule = offsets.map((t) => start + t);
      const sent = mine.map((r) => r.scheduledAt!).sort((a, b) => a - b);
      expect(sent).toHaveLength(schedule.length);
      sent.forEach((t, i) => expect(t).toBeCloseTo(schedule[i]!, 6));
      // Thread k took arrivals k, k + 2, ...: its records carry worker k and its own id prefix.
      const byTime = new Map(schedule.map((t, i) => [t.toFixed(6), i]));
      for (const r of mine) {
        const i = byTime.get(r.scheduledAt!.toFixed(6))!;
        expect(r.worker).toBe(i % 2);
        expect(r.id).toContain(`w${i % 2}-`);
      }
    }
  }, 60_000);
});
