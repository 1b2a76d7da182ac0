// Every part a real process: `find-capacity` controllers and `find-capacity agent` processes on loopback. The API key
// reaches the target only through the agents, and appears in no file and no output of any process; Ctrl-C on the
// controller stops every agent's stage gracefully and leaves a partial report; losing the only agent exits with 8.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, simProfile, tempDir, writeProfile } from '../helpers.ts';
import { onlyRunDir, startCli } from '../reliability/helpers.ts';
import { AGENT_TOKEN, killAgents, spawnAgents } from './helpers.ts';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** `find-capacity simulate` in its own process; resolves with its base URL. */
async function startSimulatorProcess() {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'simulate',
      '--preset',
      'tiny',
      '--port',
      '0',
      ...['slots=4', 'step_base_ms=20', 'step_per_seq_ms=0']
        .concat(['prefill_ms_per_1k_tokens=0', 'jitter=0'])
        .flatMap((s) => ['--set', s]),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /simulator listening: (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`simulator exited\n${out}\n${err}`)));
  });
  return { baseUrl, output: () => out + err, stop: () => (child.kill('SIGINT'), exited) };
}

/** A loopback proxy in front of the simulator that serves only requests carrying `Bearer <key>`. */
async function keyCheckingProxy(key: string, upstream: string) {
  const seen = { authorized: 0, refused: 0 };
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${key}`) {
      // The controller's /metrics probe asks without the key first (docs/server-metrics.md): not a load request.
      if (!req.url?.startsWith('/metrics')) seen.refused++;
      res.writeHead(401).end('{"error": "bad key"}');
      return;
    }
    seen.authorized++;
    const headers = { ...req.headers, host: target.host };
    const up = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/v1`, seen, close: () => new Promise((r) => server.close(r)) };
}

describe('remote agents as real processes', () => {
  it('the API key reaches the target through the agents and appears in no file or output', async () => {
    const key = `sk-test-${randomBytes(16).toString('hex')}`;
    const sim = await startSimulatorProcess();
    const proxy = await keyCheckingProxy(key, sim.baseUrl);
    const agents = await spawnAgents(3);
    const dir = tempDir('fc-agents-key-');
    try {
      const quick = 'verdict: {confirm_failures: false, bisect: false, max_extensions: 0}';
      const text = simProfile({
        slots: 4,
        concurrency: '[3, 6]',
        warmup: '300ms',
        duration: '1500ms',
        extra: quick,
      }).replace(
        /target:\n  simulator: .*\n/,
        `target: {base_url: "${proxy.url}", model: sim-llm, api_key_env: FC_TEST_KEY}\n`,
      );
      const file = writeProfile(dir, 'p.yaml', text);
      const urls = agents.map((a) => a.url).join(',');
      const ctl = startCli([file, '--agents', urls, '--out', join(dir, 'runs')], {
        env: { FC_TEST_KEY: key, FIND_CAPACITY_AGENT_TOKEN: AGENT_TOKEN },
        timeoutMs: 120_000,
      });
      const r = await ctl.done;
      expect(r.stdout).toMatch(/Capacity: 3 concurrent requests/);
      expect(r.code).toBe(0);
      // The key was used (the proxy refuses anything else), and only by the agents: the controller sends nothing.
      expect(proxy.seen.authorized).toBeGreaterThan(20);
      expect(proxy.seen.refused).toBe(0);
      await killAgents(agents);
      await sim.stop();
      const outputs = [r.stdout, r.stderr, sim.output(), ...agents.flatMap((a) => [a.stdout(), a.stderr()])];
      const files = filesUnder(dir);
      expect(files.some((f) => f.endsWith('requests.jsonl'))).toBe(true);
      for (const secret of [key, AGENT_TOKEN]) {
        for (const f of files) expect(readFileSync(f).includes(secret), f).toBe(false);
        for (const text of outputs) expect(text.includes(secret)).toBe(false);
      }
      // The agents did log their sessions: the check above read real output.
      expect(agents.every((a) => /stage 1: part \d of 3/.test(a.stderr()))).toBe(true);
    } finally {
      await killAgents(agents);
      await sim.stop();
      await proxy.close();
    }
  });

  it('Ctrl-C on the controller stops every agent’s stage gracefully and writes the partial report', async () => {
    const agents = await spawnAgents(2, ['--once']);
    try {
      const dir = tempDir('fc-agents-int-');
      const text = simProfile({
        slots: 4,
        concurrency: '[2, 4, 6]',
        warmup: '300ms',
        duration: '3s',
        extra: `agents: [${agents.map((a) => a.url).join(', ')}]`,
      });
      const ctl = startCli([writeProfile(dir, 'p.yaml', text), '--out', dir], {
        env: { FIND_CAPACITY_AGENT_TOKEN: AGENT_TOKEN },
        group: true,
      });
      // A stage index, not a number: the busy test machine may have made an earlier stage INVALID (then re-run).
      const stage = Number(
        /stage (\d+): concurrency 4 \(ramp\)/.exec(await ctl.waitFor(/stage \d+: concurrency 4 \(ramp\)/))![1],
      );
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(-ctl.child.pid!, 'SIGINT');
      const r = await ctl.done;
      expect(r.code).toBe(130);
      const summary = JSON.parse(readFileSync(join(onlyRunDir(dir), 'summary.json'), 'utf8'));
      expect(summary.interrupted).toBe(true);
      expect(summary.capacity.stop_reason).toBe('interrupted');
      const last = summary.stages[summary.stages.length - 1];
      expect([last.index, last.stopped_by, last.partial]).toEqual([stage, 'interrupted', true]);
      // Each agent ended the stage itself (its in-flight requests had their grace), sent its records, and left.
      const ends = await Promise.all(agents.map((a) => a.exited));
      expect(ends.map((e) => e.code)).toEqual([0, 0]);
      for (const a of agents) expect(a.stderr()).toMatch(new RegExp(`stage ${stage}: \\d+ records \\(interrupted\\)`));
      const records = readFileSync(join(onlyRunDir(dir), 'requests.jsonl'), 'utf8')
        .trim()
        .split('\n');
      const byAgent = new Set(
        records
          .map((l) => JSON.parse(l))
          .filter((x) => x.stage === stage)
          .map((x) => x.agent),
      );
      expect(byAgent).toEqual(new Set([0, 1]));
    } finally {
      await killAgents(agents);
    }
  });

  it('losing the only agent stops the run with agent_lost and exit code 8', async () => {
    const agents = await spawnAgents(1, ['--once']);
    try {
      const dir = tempDir('fc-agents-lost-');
      const text = simProfile({ slots: 4, concurrency: '[2, 4, 6]', warmup: '300ms', duration: '2s' });
      const ctl = startCli([writeProfile(dir, 'p.yaml', text), '--agents', agents[0]!.url, '--out', dir], {
        env: { FIND_CAPACITY_AGENT_TOKEN: AGENT_TOKEN },
      });
      const stage = Number(
        /stage (\d+): concurrency 4 \(ramp\)/.exec(await ctl.waitFor(/stage \d+: concurrency 4 \(ramp\)/))![1],
      );
      await new Promise((r) => setTimeout(r, 1200));
      agents[0]!.child.kill('SIGKILL');
      const r = await ctl.done;
      expect(r.code).toBe(8);
      expect(r.stderr).toMatch(/agent 0 \(ws:\/\/127\.0\.0\.1:\d+\) was lost mid-stage: connection closed/);
      expect(r.stdout).toMatch(/Stopped: agent_lost — every load agent was lost/);
      const summary = JSON.parse(readFileSync(join(onlyRunDir(dir), 'summary.json'), 'utf8'));
      expect(summary.stages.map((x: { verdict: string }) => x.verdict).slice(stage)).toEqual(['INVALID']);
      expect(summary.agents[0].lost).toMatch(/^connection closed/);
    } finally {
      await killAgents(agents);
    }
  });
});
