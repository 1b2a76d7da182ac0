// A controller with real `find-capacity agent` processes against the built-in simulator: it finds capacity = slots,
// every stage's merged records are exactly the requests the simulator saw, the agents' clocks map onto the
// controller's within the recorded bound, and a killed or stalled agent gives a named INVALID stage, then a clean
// continuation on the agents left or a clean stop with agent_lost, with files a rebuilt report reads alike.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { transportConfig } from '../../src/controller/transport-config.ts';
import { connectAgents } from '../../src/load/remote-agents.ts';
import type { AgentSummary } from '../../src/model/agents.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { TOOL_VERSION } from '../../src/version.ts';
import { simProfile, tempDir, writeProfile } from '../helpers.ts';
import { readGroundTruth } from '../reliability/helpers.ts';
import { AGENT_TOKEN, killAgents, readJsonLines, spawnAgents, stageOfId, type AgentProcess } from './helpers.ts';

const env = { FIND_CAPACITY_AGENT_TOKEN: AGENT_TOKEN };

async function agentProfile(dir: string, urls: string[], concurrency: string) {
  const text = simProfile({
    slots: 4,
    concurrency,
    warmup: '300ms',
    duration: '1500ms',
    extra: `agents: [${urls.join(', ')}]`,
  });
  return (await loadProfile(writeProfile(dir, 'p.yaml', text), { env })).profile;
}

/** The files of a run are whole: every line parses, summary.json and report.html exist, a rebuild reads them. */
function checkFiles(runDir: string) {
  const records = readJsonLines<RequestRecord>(join(runDir, 'requests.jsonl'));
  const stages = readJsonLines<{ type: string }>(join(runDir, 'stages.jsonl'));
  expect(stages[stages.length - 1]!.type).toBe('end');
  expect(existsSync(join(runDir, 'report.html'))).toBe(true);
  return { records, rebuilt: rebuildSummary(runDir) };
}

describe('a controller with 3 agent processes', () => {
  let agents: AgentProcess[] = [];
  beforeAll(async () => {
    agents = await spawnAgents(3);
  });
  afterAll(() => killAgents(agents));

  it('finds capacity = slots; each stage has exactly the simulator’s requests, on the controller’s clock', async () => {
    const dir = tempDir('fc-agents-');
    const profile = await agentProfile(
      dir,
      agents.map((a) => a.url),
      '[2, 4, 6]',
    );
    const r = await runCapacitySearch({ profile, env, outDir: dir });
    expect(r.capacity.concurrency).toBe(4);
    const { records, rebuilt } = checkFiles(r.runDir);
    const gt = readGroundTruth(join(r.runDir, 'simulator-ground-truth.jsonl'));
    for (const stage of r.summary.stages) {
      const ids = records.filter((x) => x.stage === stage.index).map((x) => x.id);
      const seen = [...gt.keys()].filter((id) => stageOfId(id) === stage.index);
      expect(ids.sort(), `stage ${stage.index}`).toEqual(seen.sort());
      // Every agent with a part of the stage sent some of it (2 slots leave the third agent idle).
      const used = new Set(records.filter((x) => x.stage === stage.index).map((x) => x.agent));
      expect(used, `stage ${stage.index}`).toEqual(new Set(stage.concurrency >= 3 ? [0, 1, 2] : [0, 1]));
    }
    for (const x of records) expect(x.id.startsWith(`fc`) && x.id.includes(`a${x.agent}-`), x.id).toBe(true);
    // The agents' clocks are mapped onto the controller's: the server saw each request between its t0 and its first
    // token, within the offset's error bound (+1 ms for the processes' own epoch mappings).
    const agentsJson = (r.summary as { agents?: AgentSummary[] }).agents!;
    expect(agentsJson.map((a) => [a.index, a.name, a.lost])).toEqual(agents.map((a, k) => [k, a.url, null]));
    expect(agentsJson.reduce((n, a) => n + a.records, 0)).toBe(records.length);
    const origin = r.summary.clock_origin_epoch_ms;
    for (const x of records) {
      const g = gt.get(x.id)!;
      const slack = agentsJson[x.agent!]!.error_bound_ms! + 1;
      expect(origin + x.t0, x.id).toBeLessThanOrEqual(g.arrival_ms + slack);
      expect(origin + x.firstContentAt!, x.id).toBeGreaterThanOrEqual(g.first_token_ms! - slack);
    }
    // One fold: the report rebuilt from the files judges every stage as the live run did.
    expect(rebuilt.summary.stages).toEqual(r.summary.stages);
    expect(rebuilt.summary.capacity).toEqual(r.summary.capacity);
    expect((rebuilt.summary as { agents?: unknown }).agents).toEqual(agentsJson);
  });
});

describe('an agent lost mid-stage', () => {
  it('killed: that stage is INVALID naming it, keeps its records, and the search goes on without it', async () => {
    const agents = await spawnAgents(3);
    try {
      const dir = tempDir('fc-agents-kill-');
      const profile = await agentProfile(
        dir,
        agents.map((a) => a.url),
        '[3, 4, 6]',
      );
      const stageHook = (index: number) => {
        if (index === 1) setTimeout(() => agents[1]!.child.kill('SIGKILL'), 1500);
      };
      const r = await runCapacitySearch({ profile, env, outDir: dir, stageHook });
      const lostStage = r.summary.stages[1]!;
      expect(lostStage.verdict).toBe('INVALID');
      expect(lostStage.partial).toBe(true);
      expect(lostStage.stopped_by).toBe('agent_lost');
      expect(lostStage.reasons[0]).toMatch(
        new RegExp(`^generator: agent 1 \\(${agents[1]!.url}\\) was lost mid-stage: connection closed`),
      );
      // The same level again, on the two agents left (stage 1 may be the confirmation of a level whose first stage
      // the busy test machine made INVALID); the search still ends at the knee.
      expect(r.summary.stages[2]!.concurrency).toBe(lostStage.concurrency);
      expect(r.capacity.concurrency).toBe(4);
      expect(r.capacity.stopReason).toBe('knee_found');
      const { records, rebuilt } = checkFiles(r.runDir);
      expect(records.filter((x) => x.stage === 1 && x.agent === 1).length).toBeGreaterThan(0);
      expect(new Set(records.filter((x) => x.stage >= 2).map((x) => x.agent))).toEqual(new Set([0, 2]));
      const agentsJson = (r.summary as { agents?: AgentSummary[] }).agents!;
      expect(agentsJson[1]!.lost).toMatch(/^connection closed/);
      expect(agentsJson[1]!.records).toBe(records.filter((x) => x.agent === 1).length);
      expect(rebuilt.summary.stages).toEqual(r.summary.stages);
      expect(rebuilt.summary.capacity).toEqual(r.summary.capacity);
    } finally {
      await killAgents(agents);
    }
  });

  it('stalled, and the only one: the stage is INVALID naming it, and the run stops with agent_lost', async () => {
    const agents = await spawnAgents(1);
    try {
      const dir = tempDir('fc-agents-stall-');
      const profile = await agentProfile(dir, [agents[0]!.url], '[2, 4, 6]');
      const stageHook = (index: number) => {
        if (index === 1) setTimeout(() => agents[0]!.child.kill('SIGSTOP'), 900);
      };
      const r = await runCapacitySearch({
        profile,
        env,
        outDir: dir,
        stageHook,
        executor: (target, clock, idPrefix) =>
          connectAgents({
            urls: [agents[0]!.url],
            token: AGENT_TOKEN,
            toolVersion: TOOL_VERSION,
            transport: transportConfig(profile, target.baseUrl, target.apiKey),
            seed: 1,
            secrets: target.secrets,
            idPrefix,
            clock,
            stallMs: 1500,
          }),
      });
      expect(r.summary.stages.map((s) => s.index)).toEqual([0, 1]);
      expect(r.summary.stages[1]!.verdict).toBe('INVALID');
      expect(r.summary.stages[1]!.reasons[0]).toMatch(/^generator: agent 0 \(.*\) was lost mid-stage: it stalled/);
      expect(r.capacity.stopReason).toBe('agent_lost');
      expect(r.capacity.stopDetail).toMatch(/^every load agent was lost: agent 0 .* it stalled/);
      // A stage that passed before still counts: the capacity is at least what it showed.
      expect(r.capacity.concurrency).toBe(r.summary.stages[0]!.verdict === 'PASS' ? 2 : null);
      const { rebuilt } = checkFiles(r.runDir);
      expect(rebuilt.summary.capacity).toEqual(r.summary.capacity);
    } finally {
      await killAgents(agents);
    }
  });
});
