// What a first-time user meets, through the real CLI against the built-in simulator: the sentences printed and
// written when a run stops early, stage numbering, redaction of what is no secret, and the commands that send nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';
import { onlyRunDir } from '../reliability/helpers.ts';

// Requests of ~0.1 s (5 tokens of 20 ms): a 1 s window holds ~20, far too few to decide a p99 (it needs 367).
const undecided = (extra: string) =>
  simProfile({
    slots: 8,
    concurrency: '[2, 4]',
    duration: '1s',
    warmup: '300ms',
    tokens: 5,
    slo: ['p99(ttft) < 2s'],
    extra: `verdict: {max_extensions: 2, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}\n${extra}`,
  });

describe('a run stopped while its first stage was being extended', () => {
  it('says the limit stopped it before any stage completed (terminal, summary.json, report), numbers the attempt', async () => {
    const dir = tempDir('fc-first-');
    const file = writeProfile(dir, 'p.yaml', undecided('limits: {max_requests: 40}'));
    const r = await runCli([file, '--out', dir]);
    expect(r.code, r.stderr).toBe(6);
    const sentence = 'No capacity measured: the run reached limits.max_requests (40) before any stage completed.';
    expect(r.stdout).toContain(sentence);
    expect(r.stdout).not.toMatch(/not met/);
    const runDir = onlyRunDir(dir);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.capacity.stop_detail).toBe('the run reached limits.max_requests (40) before any stage completed');
    expect(readFileSync(join(runDir, 'report.html'), 'utf8')).toContain(sentence);
    // One stage, its extension numbered as an attempt of it: never a new stage number.
    expect(summary.stages.map((s: { index: number }) => s.index)).toEqual([0]);
    expect(r.stderr).toMatch(/^stage 0: concurrency 2 \(ramp\) — \d+s elapsed, at most \d+(m\d+)?s left$/m);
    expect(r.stderr).toMatch(/^stage 0: concurrency 2 \(ramp, attempt 2\)/m);
    expect(r.stderr).not.toMatch(/^stage [1-9]/m);
    expect(r.stderr).toMatch(/^stage 0: concurrency 2 PASS \(low confidence, cut short\) — /m);
    // profile.json speaks the YAML's names, and `find-capacity report` rebuilds the same answer from it.
    const saved = JSON.parse(readFileSync(join(runDir, 'profile.json'), 'utf8'));
    expect(saved.ramp.warmup_ms).toBe(300);
    expect(saved.limits.max_requests).toBe(40);
    const rebuilt = await runCli(['report', runDir]);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain(sentence);
  });
});

describe('the bare command and --version', () => {
  it('a bare `find-capacity` prints the usage (exit 2), not "Not enough non-option arguments"', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^find-capacity <profile\.yaml> {2}— find the capacity/);
    expect(r.stderr).toContain('find-capacity validate <profile>');
    expect(r.stderr).not.toMatch(/Not enough non-option arguments|error:/);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});
