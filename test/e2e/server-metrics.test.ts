// The server's own metrics explaining the knee: the simulator's /metrics scraped during a real search (ground
// truth: nobody waits at or below its slots, somebody does above), server-metrics.jsonl rebuilt by
// `find-capacity report`, a server without /metrics (nothing changes) and one that wants credentials.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { runCapacitySearch, type RunEvent } from '../../src/controller/run.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';
import { loopbackServer } from '../reliability/helpers.ts';
import { baseUrlProfile, streamCompletion } from './loopback-llm.ts';

interface StageRow {
  concurrency: number;
  verdict: string;
  server_metrics: {
    samples: number;
    num_requests_waiting: number;
    num_requests_waiting_max: number;
    num_requests_running: number;
    num_requests_running_max: number;
  } | null;
}

describe('server metrics against the simulator', () => {
  it('waiting is 0 at and below the knee (slots) and positive above it; the knee sentence says so', async () => {
    const dir = tempDir('fc-server-metrics-');
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({ slots: 4, concurrency: '[2, 4, 6]', extra: 'verdict: {bisect: false, max_extensions: 0}' }),
    );
    const { profile } = await loadProfile(file, { env: {} });
    const events: RunEvent[] = [];
    const result = await runCapacitySearch({ profile, env: {}, outDir: dir, onEvent: (e) => events.push(e) });
    expect(result.capacity.concurrency).toBe(4);

    const notices = events.flatMap((e) => (e.type === 'notice' ? [e.message] : []));
    expect(notices).toEqual([
      expect.stringMatching(
        /^server metrics: scraping http:\/\/127\.0\.0\.1:\d+\/metrics every second .*\(vllm names\)$/,
      ),
    ]);
    const stages = result.summary.stages as StageRow[];
    expect(stages.map((s) => s.concurrency)).toEqual(expect.arrayContaining([2, 4, 6]));
    for (const s of stages) {
      const m = s.server_metrics!;
      expect(m.samples, `stage at ${s.concurrency}`).toBeGreaterThanOrEqual(1);
      if (s.concurrency <= 4) {
        expect(m.num_requests_waiting, `waiting at ${s.concurrency}`).toBe(0);
        expect(m.num_requests_waiting_max).toBe(0);
        expect(m.num_requests_running_max).toBeLessThanOrEqual(s.concurrency);
      } else {
        expect(m.num_requests_waiting, `waiting at ${s.concurrency}`).toBeGreaterThan(0);
        expect(m.num_requests_waiting_max).toBeLessThanOrEqual(2);
        expect(m.num_requests_running_max).toBe(4);
      }
    }
    const knee = result.summary.knee_explanation!;
    expect(knee).toMatchObject({ cause: 'batch_full', below: 4, above: 6 });
    expect(knee.sentence).toMatch(
      /^At and below 4 no request waits in the server's queue \(num_requests_waiting 0\); from 6, requests wait in the server's queue \(mean \d+(\.\d+)?\) while \d+(\.\d+)? run: the batch is full\.$/,
    );
    expect(result.summary.server_metrics_source).toMatchObject({ engine: 'vllm', auth: false });

    // server-metrics.jsonl: a source line, then samples tagged with their stage; `report` rebuilds the same numbers.
    const lines = readFileSync(join(result.runDir, 'server-metrics.jsonl'), 'utf8').trim().split('\n');
    const rows = lines.map((l) => JSON.parse(l) as { type: string; stage?: number; values?: object });
    expect(rows[0]).toMatchObject({ type: 'source', engine: 'vllm' });
    expect(rows.slice(1).every((r) => r.type === 'sample' && typeof r.stage === 'number')).toBe(true);
    const rebuilt = rebuildSummary(result.runDir).summary;
    expect(rebuilt.stages).toEqual(result.summary.stages);
    expect(rebuilt.knee_explanation).toEqual(result.summary.knee_explanation);
    expect(rebuilt.server_metrics_source).toEqual(result.summary.server_metrics_source);
    // The command itself, from the files alone.
    rmSync(join(result.runDir, 'summary.json'));
    rmSync(join(result.runDir, 'report.html'));
    const cli = await runCli(['report', result.runDir]);
    expect(cli.code, cli.stderr).toBe(0);
    const fromCli = JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8')) as typeof result.summary;
    expect(fromCli.stages).toEqual(result.summary.stages);
    expect(fromCli.knee_explanation).toEqual(result.summary.knee_explanation);
    const html = readFileSync(join(result.runDir, 'report.html'), 'utf8');
    expect(html.includes('id="knee-explanation" data-cause="batch_full"')).toBe(true);
    expect(html.includes('data-chart="server-metrics"')).toBe(true);
  });
});

describe('server metrics against other servers', () => {
  it('a server without /metrics: said once, nothing else changes; metrics_url: false does not even ask', async () => {
    const server = await loopbackServer((req, res) => {
      if (req.url === '/v1/chat/completions') return streamCompletion(res, 4);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    });
    try {
      const dir = tempDir('fc-no-metrics-');
      const { profile } = await loadProfile(writeProfile(dir, 'p.yaml', baseUrlProfile(server.url)), { env: {} });
      const events: RunEvent[] = [];
      const result = await runCapacitySearch({ profile, env: {}, outDir: dir, onEvent: (e) => events.push(e) });
      expect(result.capacity.concurrency).toBe(2);
      const notices = events.flatMap((e) => (e.type === 'notice' ? [e.message] : []));
      expect(notices).toEqual([
        `server metrics: http://127.0.0.1:${server.port}/metrics answered HTTP 404; the run goes on without them`,
      ]);
      expect(server.requests().filter((r) => r.url === '/metrics')).toHaveLength(1);
      expect(readdirSync(result.runDir)).not.toContain('server-metrics.jsonl');
      expect(result.summary.stages.every((s) => s.server_metrics === null)).toBe(true);
      expect(result.summary.server_metrics_source).toBeNull();
      const html = readFileSync(join(result.runDir, 'report.html'), 'utf8');
      expect(html.includes('data-chart="server-metrics"')).toBe(false);
      expect(html.includes('id="knee-explanation"')).toBe(false);

      const off = await loadProfile(writeProfile(dir, 'off.yaml', baseUrlProfile(server.url, '  metrics_url: false')), {
        env: {},
      });
      const before = server.requests().length;
      const offEvents: RunEvent[] = [];
      await runCapacitySearch({ profile: off.profile, env: {}, outDir: dir, onEvent: (e) => offEvents.push(e) });
      expect(
        server
          .requests()
          .slice(before)
          .filter((r) => r.url === '/metrics'),
      ).toHaveLength(0);
      expect(offEvents.filter((e) => e.type === 'notice')).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it('a /metrics behind auth gets the key only after a 401, and the key reaches no file', async () => {
    const key = 'sk-metrics-secret-0123456789';
    const server = await loopbackServer((req, res) => {
      if (req.url === '/v1/chat/completions') return streamCompletion(res, 4);
      if (req.url === '/metrics' && req.headers.authorization === `Bearer ${key}`) {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        return res.end(
          '# TYPE tgi_queue_size gauge\ntgi_queue_size 0\n# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 1\n',
        );
      }
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('unauthorized');
    });
    try {
      const dir = tempDir('fc-auth-metrics-');
      const yaml = baseUrlProfile(server.url, '  api_key_env: METRICS_TEST_KEY');
      const env = { METRICS_TEST_KEY: key };
      const { profile } = await loadProfile(writeProfile(dir, 'p.yaml', yaml), { env });
      const result = await runCapacitySearch({ profile, env, outDir: dir });
      const scrapes = server.requests().filter((r) => r.url === '/metrics');
      expect(scrapes[0]!.headers.authorization).toBeUndefined();
      expect(scrapes.slice(1).every((r) => r.headers.authorization === `Bearer ${key}`)).toBe(true);
      expect(result.summary.server_metrics_source).toMatchObject({ engine: 'tgi', auth: true });
      expect(result.summary.stages.every((s) => s.server_metrics?.num_requests_waiting === 0)).toBe(true);
      for (const f of readdirSync(result.runDir)) {
        const path = join(result.runDir, f);
        if (existsSync(path)) expect(readFileSync(path, 'utf8'), f).not.toContain(key);
      }
    } finally {
      await server.close();
    }
  });
});
