// The real CLI as a child process: every documented exit code, with the built-in simulator
// (or a closed loopback port) as the target.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interruptibleProfile, runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';

// The verdicts only drive the exit code here: no confirmation, and a busy machine's event loop never makes a stage
// INVALID. Short stages: 20 tokens still put a 400 ms request between the TTFT regimes either side of the knee.
const quick =
  'verdict: {confirm_failures: false, bisect: false, max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}';
const short = { warmup: '200ms', duration: '600ms', tokens: 20 };
// Only the first test depends on measured latency (a knee); the others' verdicts hold on any machine (an SLO that
// always holds, or never does), so they run at once: each is mostly the CLI's start-up.
const lax = ['p99(ttft) < 5s', 'success_rate >= 90%'];

function runDirs(dir: string): string[] {
  return readdirSync(dir).filter((f) => existsSync(join(dir, f, 'requests.jsonl')));
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe.concurrent('find-capacity exit codes', () => {
  it.sequential('0 when a knee is found; prints the table, the capacity and the run directory', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({ slots: 4, concurrency: '[2, 4, 6]', slo: ['p90(ttft) < 200ms'], ...short, extra: quick }),
    );
    const r = await runCli([file, '--out', dir]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Capacity: 4 concurrent requests/);
    expect(r.stdout).toMatch(/Stopped: knee_found/);
    const [run] = runDirs(dir);
    expect(r.stdout).toContain(`Run directory: ${join(dir, run!)}`);
    const summary = JSON.parse(readFileSync(join(dir, run!, 'summary.json'), 'utf8'));
    expect(summary.capacity.concurrency).toBe(4);
  });

  it('4 when the SLO already fails at the first stage', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({ slots: 4, concurrency: '[2, 4]', slo: ['p99(ttft) < 1ms'], ...short, extra: quick }),
    );
    const r = await runCli([file, '--out', dir]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/No capacity: the SLO was not met/);
    expect(r.stdout).toMatch(/failed_at_first_stage/);
  });

  it('5 when every level up to max passes (no knee)', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({ slots: 8, concurrency: '[2, 4]', slo: lax, ...short, extra: quick }),
    );
    const r = await runCli([file, '--out', dir]);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/at least 4 concurrent requests/);
  });

  it('6 when a run-wide safety limit stops the run', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({
        slots: 8,
        concurrency: '[2, 4, 6]',
        slo: lax,
        ...short,
        extra: `${quick}\nlimits: {max_requests: 15}`,
      }),
    );
    const r = await runCli([file, '--out', dir]);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/limit_requests/);
    const [run] = runDirs(dir);
    const lines = readFileSync(join(dir, run!, 'requests.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.length).toBeLessThanOrEqual(15);
  });

  it('2 for an invalid profile, with every problem located, and nothing sent', async () => {
    const dir = tempDir();
    const file = writeProfile(
      dir,
      'bad.yaml',
      'target:\n  simulator: {preset: tiny}\nrequest:\n  messages: [{role: user, content: hi}]\nramp:\n  concurrency: {start: 0, step: four, max: 8}\n  stage: {duration: 2}\nslo:\n  - p99(ttft) < fast\n',
    );
    const r = await runCli([file, '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+ ramp\.concurrency\.start/);
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+ ramp\.concurrency\.step/);
    expect(r.stderr).toMatch(/bad\.yaml:7:\d+ ramp\.stage\.duration/);
    expect(r.stderr).toMatch(/bad\.yaml:9:\d+ slo\[0\]/);
    expect(runDirs(dir)).toEqual([]);
  });

  it('2 when the API key variable is missing, naming the variable', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const file = writeProfile(
      dir,
      'p.yaml',
      `target:\n  base_url: http://127.0.0.1:${port}/v1\n  model: m\n  api_key_env: FC_TEST_MISSING_KEY\nrequest:\n  messages: [{role: user, content: hi}]\nramp: {concurrency: [1]}\nslo: [p99(ttft) < 1s]\n`,
    );
    const r = await runCli([file, '--out', dir], { env: { FC_TEST_MISSING_KEY: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/FC_TEST_MISSING_KEY/);
  });

  it('3 when the target is unreachable: one clear line naming the URL, no run directory', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const file = writeProfile(
      dir,
      'p.yaml',
      `target:\n  base_url: http://127.0.0.1:${port}/v1\n  model: m\nrequest:\n  messages: [{role: user, content: hi}]\nramp: {concurrency: [1]}\nslo: [p99(ttft) < 1s]\n`,
    );
    const r = await runCli([file, '--out', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`target unreachable: http://127.0.0.1:${port}/v1`);
    expect(r.stderr).toMatch(/ECONNREFUSED/);
    expect(runDirs(dir)).toEqual([]);
  });

  it('130 on SIGINT: stops, judges the completed stages, writes summary.json marked interrupted', async () => {
    const dir = tempDir();
    const file = writeProfile(dir, 'p.yaml', interruptibleProfile());
    let sent = false;
    const r = await runCli([file, '--out', dir], {
      onStderr: (text, child) => {
        if (!sent && /stage 1: concurrency 4 \(ramp\)/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    const [run] = runDirs(dir);
    const summary = JSON.parse(readFileSync(join(dir, run!, 'summary.json'), 'utf8'));
    expect(summary.interrupted).toBe(true);
    expect(summary.capacity.stop_reason).toBe('interrupted');
    expect(summary.stages[0].verdict).toBe('PASS');
    expect(summary.capacity.concurrency).toBe(2);
    // Every line of requests.jsonl is whole JSON.
    for (const line of readFileSync(join(dir, run!, 'requests.jsonl'), 'utf8')
      .trim()
      .split('\n'))
      expect(() => JSON.parse(line)).not.toThrow();
  });

  it('validate and --dry-run print the plan and send nothing', async () => {
    const dir = tempDir();
    const file = writeProfile(dir, 'p.yaml', simProfile({ slots: 4, concurrency: '{start: 2, step: 2, max: 8}' }));
    for (const args of [
      ['validate', file],
      [file, '--dry-run', '--out', dir],
    ]) {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/2, 4, 6, 8/);
    }
    expect(runDirs(dir)).toEqual([]);
  });
});
