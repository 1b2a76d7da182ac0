// Interrupts: Ctrl-C from a terminal (SIGINT to the whole process group, simulator child included), SIGTERM
// from a supervisor, a second Ctrl-C, and SIGKILL at random points. Whatever happens, every file left in the
// run directory is readable and `find-capacity report` rebuilds a summary from it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rebuildSummary, writeRebuilt } from '../../src/controller/rebuild.ts';
import { runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';
import {
  alive,
  childPids,
  onlyRunDir,
  readJsonlStrict,
  runDirsIn,
  sleep,
  startCli,
  waitUntil,
  type Rec,
} from './helpers.ts';

const SLO = ['p99(ttft) < 2s', 'success_rate >= 90%'];
const HEALTH =
  'verdict: {confirm_failures: false, bisect: false, max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}';

/** Waits until the CLI's simulator child process has started and returns its pid. */
async function simChild(pid: number): Promise<number> {
  let kids: number[] = [];
  await waitUntil(() => (kids = childPids(pid, 'host-entry')).length > 0, 20_000, 100);
  expect(kids.length, 'the CLI runs its simulator in a child process').toBeGreaterThan(0);
  return kids[0]!;
}

// Concurrent: the tests are separate runs whose checks do not depend on measured latency (lax health, lax SLOs).
describe.concurrent('interrupts', () => {
  // Requests take ~0.8 s (40 tokens × 20 ms steps), so several are in flight whenever the signal lands.
  const slowProfile = (extra = '') =>
    simProfile({
      slots: 8,
      concurrency: '[2, 4, 6]',
      // The signal lands ~0.9 s into stage 1: a 4 s window keeps it there on a loaded machine (1 s and 2 s did not).
      duration: '4s',
      tokens: 40,
      slo: SLO,
      extra: `${HEALTH}\n${extra}`,
    });

  // Both signals at once (two runs in parallel): SIGTERM must behave exactly like SIGINT.
  it('SIGINT or SIGTERM to the whole process group (terminal Ctrl-C, supervisor stop): in-flight requests finish, summary marked interrupted, exit 130', async () => {
    const dir = tempDir('fc-int-');
    const file = writeProfile(dir, 'p.yaml', slowProfile());
    const interrupted = (['SIGINT', 'SIGTERM'] as const).map(async (sig) => {
      const out = join(dir, sig);
      const cli = startCli([file, '--out', out], { group: true });
      const pid = cli.child.pid!;
      const sim = await simChild(pid);
      await cli.waitFor(/stage 1: concurrency 4 \(ramp\)/);
      await sleep(900);
      process.kill(-pid, sig); // the group: the CLI and its simulator child, as a terminal or systemd does
      const r = await cli.done;
      // The simulator child is gone once the CLI has exited (it ignored the signal, then was stopped).
      const simGone = await waitUntil(() => !alive(sim), 10_000);
      if (!simGone) process.kill(sim, 'SIGKILL');
      return { sig, out, r, simGone };
    });
    for (const { sig, out, r, simGone } of await Promise.all(interrupted)) {
      expect(r.code, sig).toBe(130);
      expect(r.stderr).toContain(`${sig}: stopping`);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(simGone, sig).toBe(true);

      const runDir = onlyRunDir(out);
      const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
      expect(summary.interrupted, sig).toBe(true);
      expect(readFileSync(join(runDir, 'report.html'), 'utf8'), sig).toMatch(/interrupted/i);
      expect(summary.capacity.stop_reason, sig).toBe('interrupted');
      expect(summary.stages.length, sig).toBe(2);
      expect(summary.stages[0].verdict, sig).toBe('PASS');
      expect(summary.stages[1].stopped_by, sig).toBe('interrupted');
      const { rows, tornLast } = readJsonlStrict<Rec>(join(runDir, 'requests.jsonl'));
      expect(tornLast, sig).toBe(false);
      // The requests in flight at the signal finished normally: the simulator did not die under them.
      const failures = rows.filter((x) => !x.ok);
      expect(failures.map((x) => `${sig} ${x.id} ${x.errorClass} ${x.error}`)).toEqual([]);
      expect(rows.filter((x) => x.stage === 1).length, sig).toBeGreaterThan(0);
    }
  });

  it('a second Ctrl-C exits at once, without waiting for stalled requests; requests.jsonl stays valid', async () => {
    const dir = tempDir('fc-int2-');
    // Every request stalls after its headers, so the first Ctrl-C would wait the whole grace period.
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({
        slots: 8,
        concurrency: '[2, 4]',
        duration: '2s',
        slo: SLO,
        sim: 'stall_after_headers: 0.5, seed: 4',
        extra: HEALTH,
      })
        .replace('first_token: 5s', 'first_token: 30s')
        .replace('total: 10s', 'total: 60s'),
    );
    const out = join(dir, 'out');
    const cli = startCli([file, '--out', out], { group: true });
    const pid = cli.child.pid!;
    const sim = await simChild(pid);
    await cli.waitFor(/stage 0: concurrency 2 \(ramp\)/);
    await sleep(1000);
    process.kill(-pid, 'SIGINT');
    await cli.waitFor(/SIGINT: stopping/);
    await sleep(300);
    process.kill(-pid, 'SIGINT');
    const r = await cli.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/SIGINT again: exiting at once/);
    // It did not wait for the stalled requests (the first Ctrl-C's grace is 5 s, then summary.json).
    const runDir = onlyRunDir(out);
    expect(existsSync(join(runDir, 'summary.json'))).toBe(false);
    expect(await waitUntil(() => !alive(sim), 10_000)).toBe(true);
    const { rows, tornLast } = readJsonlStrict<Rec>(join(runDir, 'requests.jsonl'));
    expect(tornLast).toBe(false);
    // What completed before the exit is there (the exit flush itself: test/reliability/jsonl.test.ts).
    expect(rows.length).toBeGreaterThan(0);
  });

  it('SIGKILL at random points: every file left is readable and `find-capacity report` rebuilds the summary', async () => {
    const dir = tempDir('fc-kill-');
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({
        slots: 4,
        concurrency: '[2, 4, 6, 8]',
        duration: '1s',
        warmup: '300ms',
        tokens: 20,
        slo: SLO,
        extra: HEALTH,
      }),
    );
    // Three runs at once, each killed at its own random moment after its run directory exists.
    const delays = [0, 1, 2].map((i) => Math.round(200 + i * 1300 + Math.random() * 1300));
    const runs = delays.map(async (delayMs, i) => {
      const out = join(dir, `out${i}`);
      const cli = startCli([file, '--out', out]);
      const pid = cli.child.pid!;
      const sim = await simChild(pid);
      await cli.waitFor(/run directory: /);
      await sleep(delayMs);
      cli.child.kill('SIGKILL');
      await cli.done;
      // The orphaned simulator notices its parent is gone and exits.
      const simGone = await waitUntil(() => !alive(sim), 15_000);
      if (!simGone) process.kill(sim, 'SIGKILL'); // never leave it behind, even when the check fails
      return { delayMs, out, simGone };
    });
    const killed = await Promise.all(runs);
    const checked = killed.map(({ delayMs, out, simGone }) => {
      const where = `killed ${delayMs} ms after the run directory appeared`;
      expect(simGone, where).toBe(true);
      const [runDir] = runDirsIn(out);
      expect(runDir, where).toBeDefined();
      // Every line parses; at most a torn last line (a kill in the middle of a write) is left over.
      const req = readJsonlStrict<Rec>(join(runDir!, 'requests.jsonl'));
      const stages = readJsonlStrict<{ type: string }>(join(runDir!, 'stages.jsonl'));
      JSON.parse(readFileSync(join(runDir!, 'profile.json'), 'utf8'));
      if (existsSync(join(runDir!, 'summary.json'))) JSON.parse(readFileSync(join(runDir!, 'summary.json'), 'utf8'));
      for (const rec of req.rows) expect(typeof rec.id, where).toBe('string');
      return {
        where,
        runDir: runDir!,
        torn: req.tornLast || stages.tornLast,
        stageLines: stages.rows.filter((s) => s.type === 'stage').length,
        finished: stages.rows.some((s) => s.type === 'end'),
      };
    });
    // The first through the CLI (exit code, output), the others in-process (the same code, without 2 s of start-up each).
    const viaCli = await runCli(['report', checked[0]!.runDir]);
    expect(viaCli.code, `${checked[0]!.where}\n${viaCli.stderr}`).toBe(0);
    expect(viaCli.stdout).toContain(`Run directory: ${checked[0]!.runDir}`);
    if (!checked[0]!.torn) expect(viaCli.stderr).not.toMatch(/skipped \d+ unreadable line/);
    for (const c of checked.slice(1)) {
      const rebuilt = rebuildSummary(c.runDir);
      writeRebuilt(c.runDir, rebuilt);
      // Only a torn last line (one per file at most) may be skipped.
      expect(rebuilt.skippedLines, c.where).toBeLessThanOrEqual(c.torn ? 2 : 0);
    }
    for (const c of checked) {
      const summary = JSON.parse(readFileSync(join(c.runDir, 'summary.json'), 'utf8'));
      expect(summary.stages.length, c.where).toBe(c.stageLines);
      expect(readFileSync(join(c.runDir, 'report.html'), 'utf8'), c.where).toMatch(/^<!doctype html>/i);
      if (!c.finished) expect(summary.capacity.stop_reason, c.where).toBe('interrupted');
    }
  });
});
