// `agents: [url, ...]`: the load generator on remote agents, built like the worker pool. Before each stage the
// controller measures every agent's clock offset; it fixes the stage start on its own clock, gives agent k part k of
// the stage's load (the load model splits it, as for threads) and its share of the counts that cannot be shared live
// (a request-limit window, the run's request budget); records stream back as they end and the stage is judged on
// all of them. The breaker and the run-wide budgets are judged here, on the same StageTally, which tells the agents
// to stop. An agent that dies or stalls mid-stage is named, the stage is INVALID (stopped: `agent_lost`), the
// records it sent are kept, and later stages run on the agents left (docs/distributed.md).
import { ToolError } from '../errors.ts';
import type { AgentSummary } from '../model/agents.ts';
import type { RequestRecord } from '../model/record.ts';
import { targetConcurrency, type StagePlan, type StageRunResult, type StoppedBy } from '../model/stage.ts';
import { AgentLink, type LinkOptions } from './agent-link.ts';
import type { AgentDone, AgentSetup, AgentStage, FromAgent } from './agent-protocol.ts';
import type { StageExecutor, StageHooks, StagePart } from './executor.ts';
import { partsWithWork } from './load-model.ts';
import { partWeights, splitExactly } from './stage-split.ts';
import { StageTally } from './tally.ts';

const POLL_MS = 25;
const PINGS_AT_CONNECT = 8;
const PINGS_PER_STAGE = 5;

export interface RemoteAgentsOptions extends Omit<LinkOptions, 'connectWaitMs'>, Omit<AgentSetup, 'index' | 'path'> {
  urls: string[];
  path?: AgentSetup['path'];
  /** Retry agents that do not listen yet this long (default 10 s). */
  connectWaitMs?: number;
  /** An agent silent this long during a stage (or a clock ping) is lost (default 10 s). */
  stallMs?: number;
  breakerMinRequests?: number;
  progressEveryMs?: number;
  /** One line for the user: agents connected, agents lost. */
  notice?: (text: string) => void;
}

export interface RemoteAgents extends StageExecutor {
  halted(): string | null;
  agentSummaries(): AgentSummary[];
}

const describe = (l: AgentLink) => `agent ${l.index} (${l.url})`;

export async function connectAgents(o: RemoteAgentsOptions): Promise<RemoteAgents> {
  const linkOptions: LinkOptions = { ...o, connectWaitMs: o.connectWaitMs ?? 10_000 };
  const setup = (index: number): AgentSetup => ({
    index,
    idPrefix: `${o.idPrefix}a${index}`,
    transport: o.transport,
    payloads: o.payloads,
    seed: o.seed,
    secrets: o.secrets,
    path: o.path ?? 'fast',
    interruptGraceMs: o.interruptGraceMs,
  });
  const settled = await Promise.allSettled(o.urls.map((url, k) => AgentLink.connect(k, url, setup(k), linkOptions)));
  const links = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(links.map((l) => l.close()));
    throw failed.reason;
  }
  const stallMs = o.stallMs ?? 10_000;
  for (const l of links) {
    const e = await l.measureClock(PINGS_AT_CONNECT, stallMs).catch(async (err: Error) => {
      await Promise.all(links.map((x) => x.close()));
      throw new ToolError('agent_unavailable', `${describe(l)} did not answer: ${err.message}`);
    });
    o.notice?.(`${describe(l)} connected: clock offset ${e.offsetMs.toFixed(3)} ms ± ${e.errorBoundMs.toFixed(3)} ms`);
  }
  return {
    runStage: (plan, hooks) => runRemoteStage(o, stallMs, links, plan, hooks),
    close: () => Promise.all(links.filter((l) => l.lost === null).map((l) => l.close())).then(() => undefined),
    halted: () =>
      links.every((l) => l.lost !== null)
        ? `every load agent was lost: ${links.map((l) => `${describe(l)} ${l.lost}`).join('; ')}`
        : null,
    agentSummaries: () => links.map(summaryOf),
  };
}

function summaryOf(l: AgentLink): AgentSummary {
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    index: l.index,
    name: l.url,
    offset_ms: l.estimate ? r3(l.estimate.offsetMs) : null,
    error_bound_ms: l.estimate ? r3(Math.max(l.maxErrorBoundMs, l.estimate.errorBoundMs)) : null,
    records: l.records,
    lost: l.lost,
  };
}

/** Measures every live agent's clock; an agent that does not answer is lost before the stage starts. */
async function measureClocks(o: RemoteAgentsOptions, stallMs: number, links: AgentLink[]): Promise<AgentLink[]> {
  await Promise.all(
    links
      .filter((l) => l.lost === null)
      .map((l) =>
        l.measureClock(PINGS_PER_STAGE, stallMs).then(
          (e) => void (l.maxErrorBoundMs = Math.max(l.maxErrorBoundMs, e.errorBoundMs)),
          (err: Error) => {
            l.markLost(err.message);
            o.notice?.(`${describe(l)} lost before the stage: ${err.message}`);
          },
        ),
      ),
  );
  return links.filter((l) => l.lost === null);
}

async function runRemoteStage(
  o: RemoteAgentsOptions,
  stallMs: number,
  links: AgentLink[],
  plan: StagePlan,
  hooks: StageHooks,
): Promise<StageRunResult> {
  const alive = await measureClocks(o, stallMs, links);
  if (alive.length === 0) return noAgentLeft(o.clock.now(), plan);
  const of = alive.length;
  const active = of === 0 ? [] : partsWithWork(plan.load, of).map((k) => ({ link: alive[k]!, part: { index: k, of } }));
  // The start lies far enough ahead for the stage message to reach every agent before it.
  const maxRttMs = Math.max(0, ...alive.map((l) => l.estimate?.rttMs ?? 0));
  const stage = new RemoteStage(o, stallMs, plan, hooks, active, o.clock.now() + Math.max(20, 3 * maxRttMs));
  return stage.run();
}

/** A stage that could not start: it is INVALID and never decides the capacity; the run then stops (agent_lost). */
function noAgentLeft(now: number, plan: StagePlan): StageRunResult {
  return {
    window: { index: plan.index, concurrency: targetConcurrency(plan.load), startMs: now, endMs: now },
    records: [],
    stoppedBy: 'agent_lost',
    health: { eventLoopDelayP99Ms: 0, cpuPercent: 0, problems: ['no load agent was left to run the stage'] },
  };
}

/** The counts a stage cannot share live, split over its active parts in proportion to their load. */
function agentStages(
  plan: StagePlan & { startMs: number },
  active: { link: AgentLink; part: StagePart }[],
  hooks: StageHooks,
) {
  const weights = partWeights(plan.load, active[0]?.part.of ?? 1);
  const mine = active.map((a) => weights[a.part.index] ?? 0);
  const limits = plan.requestLimit === null ? null : splitExactly(plan.requestLimit, mine);
  const budgets = splitExactly(hooks.budget.remainingRequests(), mine);
  const deadline = Number.isFinite(hooks.budget.deadlineMs) ? hooks.budget.deadlineMs : null;
  return active.map((a, i): AgentStage => ({
    type: 'stage',
    plan,
    part: a.part,
    requestLimit: limits ? limits[i]! : null,
    maxRequests: budgets[i]!,
    deadlineMs: deadline,
    offsetMs: a.link.estimate?.offsetMs ?? 0,
  }));
}

/** One stage over the agents: their messages in, the tally's stops out, their ends merged. */
class RemoteStage {
  private readonly tally: StageTally;
  private readonly records: RequestRecord[] = [];
  private readonly dones = new Map<AgentLink, AgentDone>();
  private readonly sent = new Map<AgentLink, number>();
  private readonly problems: string[] = [];
  private interrupted = false;
  private finish: () => void = () => {};

  constructor(
    private readonly o: RemoteAgentsOptions,
    private readonly stallMs: number,
    private readonly plan: StagePlan,
    private readonly hooks: StageHooks,
    private readonly active: { link: AgentLink; part: StagePart }[],
    private readonly startMs: number,
  ) {
    this.tally = new StageTally({
      plan,
      clock: o.clock,
      stageStartMs: startMs,
      maxErrorRate: hooks.maxErrorRate,
      breakerMinRequests: o.breakerMinRequests,
      onStop: () => this.broadcast({ type: 'stop' }),
    });
  }

  async run(): Promise<StageRunResult> {
    const { clock } = this.o;
    const onInterrupt = () => {
      this.interrupted = true;
      this.tally.interrupt();
      this.broadcast({ type: 'interrupt' });
    };
    this.hooks.stopSignal?.addEventListener('abort', onInterrupt);
    const poll = clock.setInterval(() => this.poll(), POLL_MS);
    this.tally.start(this.hooks.onProgress ? (p) => this.hooks.onProgress!(p) : undefined, this.o.progressEveryMs);
    try {
      const ended = new Promise<void>((resolve) => (this.finish = resolve));
      const plan = { ...this.plan, startMs: this.startMs };
      agentStages(plan, this.active, this.hooks).forEach((m, i) => {
        const { link } = this.active[i]!;
        link.onStageMessage = (msg) => this.receive(link, msg);
        link.onClose = (why) => this.lose(link, why);
        link.lastHeardMs = clock.now();
        link.send(m);
      });
      if (this.hooks.stopSignal?.aborted) onInterrupt();
      this.checkEnded();
      await ended;
      return mergeAgentStage({
        plan: this.plan,
        windowStartMs: this.tally.windowStartMs,
        fallbackWindowEndMs: this.tally.window().endMs,
        tallyStoppedBy: this.tally.stoppedBy,
        dones: [...this.dones.values()],
        problems: this.problems,
        records: this.records,
      });
    } finally {
      clock.clear(poll);
      this.tally.dispose();
      this.hooks.stopSignal?.removeEventListener('abort', onInterrupt);
      for (const { link } of this.active) {
        link.onStageMessage = null;
        link.onClose = null;
      }
    }
  }

  private broadcast(m: { type: 'stop' } | { type: 'interrupt' }): void {
    for (const { link } of this.active) if (!this.dones.has(link)) link.send(m);
  }

  private receive(link: AgentLink, m: FromAgent): void {
    if (link.lost !== null || this.dones.has(link)) return;
    if (m.type === 'records') {
      for (const rec of m.records) {
        rec.agent = link.index;
        link.records++;
        this.records.push(rec);
        this.hooks.onRecord(rec);
        this.tally.record(rec);
      }
    }
    if (m.type === 'records' || m.type === 'tick' || m.type === 'done') this.countSent(link, m.sent);
    if (m.type === 'failed') this.lose(link, `its stage failed: ${m.message}`);
    if (m.type !== 'done') return;
    // An agent stopped on its own (Ctrl-C on the agent) left the stage short of its slots.
    if (m.stoppedBy === 'interrupted' && !this.interrupted) return this.lose(link, 'it was stopped on its side');
    this.dones.set(link, m);
    this.checkEnded();
  }

  private countSent(link: AgentLink, sent: number): void {
    const before = this.sent.get(link) ?? 0;
    if (sent > before) this.hooks.budget.countSent(sent - before);
    this.sent.set(link, Math.max(before, sent));
  }

  /** Names the agent, keeps what it sent, stops the stage (it cannot be judged) and ends the agent's part. */
  private lose(link: AgentLink, why: string): void {
    if (link.lost !== null || this.dones.has(link)) return;
    link.markLost(why);
    const kept = this.records.filter((r) => r.agent === link.index).length;
    const problem = `${describe(link)} was lost mid-stage: ${why}; its ${kept} records received are kept, its requests in flight have none`;
    this.problems.push(problem);
    this.o.notice?.(problem);
    this.tally.stop('agent_lost');
    this.checkEnded();
  }

  private poll(): void {
    this.tally.checkBudget(this.hooks.budget);
    const now = this.o.clock.now();
    for (const { link } of this.active) {
      if (link.lost !== null || this.dones.has(link)) continue;
      if (now - link.lastHeardMs > this.stallMs) this.lose(link, `it stalled: no message for ${this.stallMs / 1000} s`);
    }
  }

  private checkEnded(): void {
    if (this.active.every(({ link }) => link.lost !== null || this.dones.has(link))) this.finish();
  }
}

export interface AgentStageParts {
  plan: StagePlan;
  windowStartMs: number;
  /** Where the window ends when no agent finished its part. */
  fallbackWindowEndMs: number;
  tallyStoppedBy: StoppedBy | null;
  dones: AgentDone[];
  problems: string[];
  records: RequestRecord[];
}

/** One stage from the agents' ends: the controller's window start, the merged end, the first stop, the busiest agent. */
export function mergeAgentStage(p: AgentStageParts): StageRunResult {
  const ws = p.windowStartMs;
  const agentStop = p.dones.map((d) => d.stoppedBy).find((x) => x !== null) ?? null;
  const lost = p.problems.length > 0;
  const stoppedBy = p.tallyStoppedBy === 'interrupted' || !lost ? (p.tallyStoppedBy ?? agentStop) : 'agent_lost';
  const ends = p.dones.map((d) => d.window.endMs);
  // Each agent closes a request-limit window at its own share's last request: the window holds them all. Any other
  // window ends at the same instant everywhere (its duration) or where the first agent saw the stop.
  const shareEnds = p.plan.requestLimit !== null && stoppedBy === null;
  const endMs = ends.length === 0 ? p.fallbackWindowEndMs : shareEnds ? Math.max(...ends) : Math.min(...ends);
  return {
    window: {
      index: p.plan.index,
      concurrency: targetConcurrency(p.plan.load),
      startMs: ws,
      endMs: Math.max(ws, endMs),
    },
    records: p.records,
    stoppedBy,
    health: {
      eventLoopDelayP99Ms: Math.max(0, ...p.dones.map((d) => d.health.eventLoopDelayP99Ms)),
      cpuPercent: Math.max(0, ...p.dones.map((d) => d.health.cpuPercent)),
      ...(lost ? { problems: [...p.problems] } : {}),
    },
  };
}
