// Property: a stage judged on the records merged from N agents gets the verdict (and the summary) that the same
// records get when judged as one process's stage. Seeded cases: closed loops split over 1-5 agents as the load model
// splits them, duration and request-limit windows, failures, slow tails, an agent whose event loop lags, and the
// agents' batches arriving interleaved in any order.
import { describe, expect, it } from 'vitest';
import { judgeStage } from '../../src/controller/judge.ts';
import { shares } from '../../src/load/closed-loop.ts';
import type { AgentDone } from '../../src/load/agent-protocol.ts';
import { mergeAgentStage } from '../../src/load/remote-agents.ts';
import { partWeights, splitExactly } from '../../src/load/stage-split.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { targetConcurrency, type StagePlan } from '../../src/model/stage.ts';
import type { StageMeta } from '../../src/model/verdict.ts';
import { parseRule } from '../../src/slo/parse.ts';
import { mulberry32 } from '../../src/util/prng.ts';

const profile = {
  slo: ['p90(ttft) < 120ms', 'avg(e2e) < 600ms', 'success_rate >= 95%'].map(parseRule),
  verdict: {
    confidence: 0.95,
    confirmFailures: true,
    maxExtensions: 2,
    bisect: true,
    bisectResolution: null,
    maxEventLoopDelayMs: null,
    minAchievedConcurrency: 0.8,
  },
};

function record(rng: () => number, id: string, slot: number, t0: number, phase: 'warmup' | 'window', slowness: number) {
  const ok = rng() > 0.04;
  const ttft = 20 + rng() * 80 * slowness + (rng() < 0.05 ? 300 : 0);
  const e2e = ttft + 100 + rng() * 400 * slowness;
  const rec: RequestRecord = {
    id,
    stage: 7,
    phase,
    worker: slot,
    payload: 0,
    t0,
    headersAt: t0 + 2,
    firstContentAt: ok ? t0 + ttft : null,
    lastContentAt: ok ? t0 + e2e : null,
    end: t0 + e2e,
    gapsMs: ok ? [e2e - ttft] : [],
    contentChunks: ok ? 2 : 0,
    status: ok ? 200 : 503,
    ok,
    errorClass: ok ? null : 'http_5xx',
    error: ok ? null : '503 busy',
    errorPhase: null,
    finishReason: ok ? 'stop' : null,
    promptTokens: 5,
    outputTokens: ok ? 2 : 0,
    outputTokensEstimated: false,
    retryAfterS: null,
  };
  return rec;
}

/** What agent `k` of `of` sends for a closed-loop stage: its slots, its share of a request limit, its window end. */
function agentPart(rng: () => number, plan: StagePlan & { startMs: number }, k: number, of: number, slowness: number) {
  const C = targetConcurrency(plan.load);
  const ws = plan.startMs + plan.warmupMs;
  const we = plan.durationMs === null ? Infinity : ws + plan.durationMs;
  const limit = plan.requestLimit === null ? null : splitExactly(plan.requestLimit, partWeights(plan.load, of))[k]!;
  const mine = shares(C, of)[k]!;
  const starts: { slot: number; t0: number }[] = [];
  const records: RequestRecord[] = [];
  // Each slot's requests, back to back; then the window's admission in start order, as the agent's tally does.
  const next = new Map<number, number>();
  for (let w = mine.offset; w < mine.offset + mine.count; w++)
    next.set(w, plan.startMs + (plan.warmupMs / 2) * (w / C));
  let admitted = 0;
  let endMs = we;
  while (next.size > 0) {
    const [slot, t0] = [...next].sort((a, b) => a[1] - b[1])[0]!;
    if (t0 >= endMs) break;
    const phase = t0 < ws ? 'warmup' : 'window';
    if (phase === 'window' && limit !== null && ++admitted > limit) break;
    const rec = record(rng, `a${k}-7-${records.length}`, slot, t0, phase, slowness);
    records.push(rec);
    starts.push({ slot, t0 });
    if (phase === 'window' && limit !== null && admitted === limit) endMs = t0;
    next.set(slot, rec.end);
  }
  const done: AgentDone = {
    type: 'done',
    window: { index: 7, concurrency: C, startMs: ws, endMs: Number.isFinite(endMs) ? endMs : ws },
    stoppedBy: null,
    health: { eventLoopDelayP99Ms: rng() < 0.1 ? 40 + rng() * 40 : rng() * 10, cpuPercent: rng() * 80 },
    sent: records.length,
  };
  return { records, done };
}

/** Batches of each agent's records (in end order) arriving interleaved, each agent delayed by its own network. */
function arrivalOrder(rng: () => number, parts: RequestRecord[][]): RequestRecord[] {
  const arrivals = parts.flatMap((recs) => {
    const delay = rng() * 30;
    return [...recs].sort((a, b) => a.end - b.end).map((r) => ({ r, at: r.end + delay + rng() * 20 }));
  });
  return arrivals.sort((a, b) => a.at - b.at).map((x) => x.r);
}

/** Numbers to 9 significant digits: sums over another order may differ in their last bits. */
function rounded(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? Number(v.toPrecision(9)) : v;
  if (Array.isArray(v)) return v.map(rounded);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rounded(x)]));
  return v;
}

function meta(window: StageMeta['window'], health: { eventLoopDelayP99Ms: number; cpuPercent: number }): StageMeta {
  return { window, windows: [window], kind: 'ramp', final: true, stoppedBy: null, ...health, ttftOverhead: null };
}

describe('a stage merged from agents is judged as one process would judge its records', () => {
  it('200 seeded stages: same verdict, rules and summary', () => {
    const verdicts = new Map<string, number>();
    for (let seed = 1; seed <= 200; seed++) {
      const rng = mulberry32(seed);
      const agents = 1 + Math.floor(rng() * 5);
      const C = 1 + Math.floor(rng() * 24);
      const byLimit = rng() < 0.4;
      const plan = {
        index: 7,
        load: { kind: 'closed' as const, concurrency: C },
        warmupMs: 300,
        durationMs: byLimit ? null : 1500 + Math.floor(rng() * 3000),
        requestLimit: byLimit ? 20 + Math.floor(rng() * 150) : null,
        drainMs: 10_000,
        startMs: 1000,
      };
      const slowness = 0.5 + rng() * 1.5;
      const parts = Array.from({ length: Math.min(agents, C) }, (_, k) =>
        agentPart(rng, plan, k, Math.min(agents, C), slowness),
      );
      const merged = mergeAgentStage({
        plan,
        windowStartMs: plan.startMs + plan.warmupMs,
        fallbackWindowEndMs: 0,
        tallyStoppedBy: null,
        dones: parts.map((p) => p.done),
        problems: [],
        records: arrivalOrder(
          rng,
          parts.map((p) => p.records),
        ),
      });
      // One process: the same records in start order, its window from the records themselves.
      const all = parts.flatMap((p) => p.records).sort((a, b) => a.t0 - b.t0);
      const ws = plan.startMs + plan.warmupMs;
      const lastWindowStart = Math.max(ws, ...all.filter((r) => r.phase === 'window').map((r) => r.t0));
      const oneWindow = {
        index: 7,
        concurrency: C,
        startMs: ws,
        endMs: byLimit ? lastWindowStart : ws + plan.durationMs!,
      };
      expect(merged.window, `seed ${seed}`).toEqual(oneWindow);
      expect(merged.records).toHaveLength(all.length);
      const health = {
        eventLoopDelayP99Ms: Math.max(...parts.map((p) => p.done.health.eventLoopDelayP99Ms)),
        cpuPercent: Math.max(...parts.map((p) => p.done.health.cpuPercent)),
      };
      expect(merged.health).toEqual(health);
      const fromAgents = judgeStage(profile, merged.records, meta(merged.window, merged.health));
      const oneProcess = judgeStage(profile, all, meta(oneWindow, health));
      expect(fromAgents.verdict, `seed ${seed}`).toBe(oneProcess.verdict);
      const { errorSamples: _a, ...agentSummary } = fromAgents.summary;
      const { errorSamples: _b, ...oneSummary } = oneProcess.summary;
      expect(rounded(agentSummary), `seed ${seed}`).toEqual(rounded(oneSummary));
      expect(rounded(fromAgents.rules), `seed ${seed}`).toEqual(rounded(oneProcess.rules));
      verdicts.set(oneProcess.verdict, (verdicts.get(oneProcess.verdict) ?? 0) + 1);
    }
    // The cases cover every verdict a complete stage can get.
    expect([...verdicts.keys()].sort()).toEqual(['FAIL', 'INVALID', 'PASS']);
  });

  it('one agent whose event loop lags makes the whole stage INVALID', () => {
    const rng = mulberry32(7);
    const plan = {
      index: 7,
      load: { kind: 'closed' as const, concurrency: 6 },
      warmupMs: 300,
      durationMs: 2000,
      requestLimit: null,
      drainMs: 10_000,
      startMs: 1000,
    };
    const parts = [0, 1, 2].map((k) => agentPart(rng, plan, k, 3, 0.5));
    parts.forEach((p, k) => (p.done.health = { eventLoopDelayP99Ms: k === 2 ? 80 : 2, cpuPercent: 20 }));
    const merged = mergeAgentStage({
      plan,
      windowStartMs: 1300,
      fallbackWindowEndMs: 0,
      tallyStoppedBy: null,
      dones: parts.map((p) => p.done),
      problems: [],
      records: parts.flatMap((p) => p.records),
    });
    const judged = judgeStage(profile, merged.records, meta(merged.window, merged.health));
    expect(judged.verdict).toBe('INVALID');
    expect(judged.reasons).toEqual([
      "generator: event-loop delay p99 80.0 ms > 30 ms: the load generator's timestamps are late",
    ]);
  });

  it('a lost agent makes the stage agent_lost and INVALID with the agent named, keeping its records', () => {
    const rng = mulberry32(99);
    const plan = {
      index: 7,
      load: { kind: 'closed' as const, concurrency: 6 },
      warmupMs: 300,
      durationMs: 2000,
      requestLimit: null,
      drainMs: 10_000,
      startMs: 1000,
    };
    const parts = [0, 1, 2].map((k) => agentPart(rng, plan, k, 3, 1));
    const problem = 'agent 1 (ws://127.0.0.1:7071) was lost mid-stage: connection closed (code 1006)';
    const merged = mergeAgentStage({
      plan,
      windowStartMs: 1300,
      fallbackWindowEndMs: 0,
      tallyStoppedBy: 'agent_lost',
      dones: [parts[0]!.done, parts[2]!.done],
      problems: [problem],
      records: parts.flatMap((p) => p.records),
    });
    expect(merged.stoppedBy).toBe('agent_lost');
    expect(merged.records).toHaveLength(parts.flatMap((p) => p.records).length);
    const m = {
      ...meta(merged.window, merged.health),
      stoppedBy: merged.stoppedBy,
      generatorProblems: merged.health.problems,
    };
    const judged = judgeStage(profile, merged.records, m);
    expect(judged.verdict).toBe('INVALID');
    expect(judged.partial).toBe(true);
    expect(judged.reasons[0]).toBe(`generator: ${problem}`);
  });
});
