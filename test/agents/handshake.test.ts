// Who may talk to an agent: a controller without the agent token (or with a wrong one) is refused before the socket
// opens, an agent of another version is refused with both versions named, an agent will not start without a token,
// and a controller will not start without one.
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { ToolError } from '../../src/errors.ts';
import { startAgentServer, type AgentServer } from '../../src/load/agent-host.ts';
import { unlimitedBudget } from '../../src/load/executor.ts';
import { connectAgents, type RemoteAgentsOptions } from '../../src/load/remote-agents.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { systemClock } from '../../src/util/clock.ts';
import { TOOL_VERSION } from '../../src/version.ts';
import { runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';

const TOKEN = 'handshake-test-token';
let server: AgentServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

function controller(url: string, over: Partial<RemoteAgentsOptions> = {}): RemoteAgentsOptions {
  return {
    urls: [url],
    token: TOKEN,
    toolVersion: TOOL_VERSION,
    transport: {
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: 'EMPTY',
      headers: {},
      body: { base: { model: 'm', stream: true }, payloads: [{ messages: [{ role: 'user', content: 'hi' }] }] },
      stream: true,
      timeouts: { firstTokenMs: 1000, idleMs: 1000, totalMs: 1000 },
    },
    seed: 1,
    secrets: [],
    idPrefix: 'hs',
    clock: systemClock(),
    connectWaitMs: 0,
    ...over,
  };
}

describe('agent handshake', () => {
  it('accepts a controller with the token: hello, setup, clock pings', async () => {
    server = await startAgentServer({ host: '127.0.0.1', port: 0, token: TOKEN, toolVersion: TOOL_VERSION });
    const agents = await connectAgents(controller(server.url));
    const [summary] = agents.agentSummaries();
    expect(summary!.lost).toBeNull();
    expect(summary!.error_bound_ms).toBeGreaterThanOrEqual(0);
    await agents.close();
  });

  it('refuses a controller without the token, or with a wrong one, before the socket opens', async () => {
    const lines: string[] = [];
    server = await startAgentServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      toolVersion: TOOL_VERSION,
      log: (l) => lines.push(l),
    });
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(server!.url);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened without a token')));
      ws.once('error', () => {});
    });
    expect(status).toBe(401);
    const wrong = connectAgents(controller(server.url, { token: 'not-the-token' }));
    await expect(wrong).rejects.toThrow(/refused this controller: the agent token is missing or wrong \(HTTP 401\)/);
    await expect(wrong).rejects.toBeInstanceOf(ToolError);
    expect(
      lines.filter((l) => /refused a controller from 127\.0\.0\.1: missing or wrong agent token/.test(l)),
    ).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('not-the-token');
  });

  it('refuses an agent of another version, naming both', async () => {
    server = await startAgentServer({ host: '127.0.0.1', port: 0, token: TOKEN, toolVersion: '9.9.9', protocol: 99 });
    await expect(connectAgents(controller(server.url))).rejects.toThrow(
      `agent ${server.url} runs find-capacity 9.9.9 (agent protocol 99), this one ${TOOL_VERSION} (protocol 1): run the same version on the controller and every agent`,
    );
  });

  it('an agent does not start without FIND_CAPACITY_AGENT_TOKEN', async () => {
    const r = await runCli(['agent', '--listen', '127.0.0.1:0'], { env: { FIND_CAPACITY_AGENT_TOKEN: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/FIND_CAPACITY_AGENT_TOKEN is not set: an agent only serves a controller that presents/);
  });

  it('a controller does not start without FIND_CAPACITY_AGENT_TOKEN', async () => {
    const dir = tempDir();
    const text = simProfile({ slots: 2, concurrency: '[1]', extra: 'agents: [ws://127.0.0.1:9]' });
    const { profile } = await loadProfile(writeProfile(dir, 'p.yaml', text), { env: {} });
    await expect(runCapacitySearch({ profile, env: {}, outDir: join(dir, 'out') })).rejects.toThrow(
      /FIND_CAPACITY_AGENT_TOKEN is not set: the agents require it of their controller/,
    );
  });

  it('an agent gone between stages is lost: with none left, a stage cannot start and the run must stop', async () => {
    server = await startAgentServer({ host: '127.0.0.1', port: 0, token: TOKEN, toolVersion: TOOL_VERSION });
    const agents = await connectAgents(controller(server.url));
    expect(agents.halted()).toBeNull();
    await server.close();
    server = null;
    await vi.waitFor(() => expect(agents.agentSummaries()[0]!.lost).toMatch(/^connection closed/));
    expect(agents.halted()).toMatch(/^every load agent was lost: agent 0 \(ws:.*\) connection closed/);
    const plan = { index: 0, load: { kind: 'closed' as const, concurrency: 2 }, warmupMs: 0, durationMs: 100 };
    const res = await agents.runStage(
      { ...plan, requestLimit: null, drainMs: 100 },
      { onRecord: () => {}, maxErrorRate: 1, budget: unlimitedBudget() },
    );
    expect(res.stoppedBy).toBe('agent_lost');
    expect(res.health.problems).toEqual(['no load agent was left to run the stage']);
    await agents.close();
  });

  it('an unreachable agent is named, with how to start one', async () => {
    const err = await connectAgents(controller('ws://127.0.0.1:9')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('agent_unavailable');
    expect((err as ToolError).message).toMatch(/^agent ws:\/\/127\.0\.0\.1:9 is unreachable: .*ECONNREFUSED/);
  });
});
