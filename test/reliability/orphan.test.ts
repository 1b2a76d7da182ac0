// Orphaned by its launcher: a supervisor (Kubernetes, Docker, a CI runner) signals the top process only, and when
// that is a launcher (`npx`, a wrapper script) it may die without passing the signal on. find-capacity then notices
// its parent is gone and stops as on SIGTERM: in-flight requests finish, the partial report is written, it exits.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, simProfile, tempDir, writeProfile } from '../helpers.ts';
import { alive, childPids, onlyRunDir, waitUntil } from './helpers.ts';

// Requests of ~0.8 s (40 tokens × 20 ms): several are in flight whenever the launcher dies.
const profile = simProfile({
  slots: 8,
  concurrency: '[2, 4, 6]',
  duration: '3s',
  tokens: 40,
  slo: ['p99(ttft) < 2s', 'success_rate >= 90%'],
  extra:
    'verdict: {confirm_failures: false, bisect: false, max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}',
});

/** A wrapper that starts find-capacity with pipes for its output (as a CI runner does) and prints its pid. */
const LAUNCHER = `import { spawn } from 'node:child_process';
const child = spawn(process.execPath, process.argv.slice(2), { stdio: ['ignore', 'pipe', 'pipe'] });
child.stdout.pipe(process.stdout);
child.stderr.pipe(process.stderr);
console.log('child pid', child.pid);
`;

describe('orphaned by its launcher', () => {
  it('the launcher is killed (SIGKILL, nothing passed on): the run stops gracefully, writes its report, exits', async () => {
    const dir = tempDir('fc-orphan-');
    const file = writeProfile(dir, 'p.yaml', profile);
    const launcher = join(dir, 'launcher.mjs');
    writeFileSync(launcher, LAUNCHER);
    const out = join(dir, 'out');
    const wrapper = spawn(process.execPath, [launcher, BIN, file, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    wrapper.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    wrapper.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let pid = 0;
    let sim = 0;
    try {
      expect(await waitUntil(() => /stage 1: concurrency 4/.test(stderr), 30_000), stderr).toBe(true);
      pid = Number(/child pid (\d+)/.exec(stdout)![1]);
      sim = childPids(pid, 'host-entry')[0] ?? 0;
      wrapper.kill('SIGKILL');
      // It notices within a second, lets the stage's requests finish (~1 s), writes the report and exits.
      expect(await waitUntil(() => !alive(pid), 30_000, 100), 'find-capacity exited').toBe(true);
    } finally {
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      if (sim && alive(sim)) process.kill(sim, 'SIGKILL');
    }
    expect(sim, 'the simulator child was found').toBeGreaterThan(0);
    expect(await waitUntil(() => !alive(sim), 10_000), 'the simulator child exited too').toBe(true);
    const runDir = onlyRunDir(out);
    expect(existsSync(join(runDir, 'report.html'))).toBe(true);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.interrupted).toBe(true);
    expect(summary.capacity.stop_reason).toBe('interrupted');
    expect(summary.capacity.stop_detail).toMatch(/^interrupted: the launching process went away; /);
    expect(summary.stages[0].verdict).toBe('PASS');
    expect(summary.stages[1].stopped_by).toBe('interrupted');
  });
});
