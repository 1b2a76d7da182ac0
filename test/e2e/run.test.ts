// A full capacity search against the built-in simulator over real loopback HTTP with the real
// openai SDK, checked against the simulator's ground truth (knee = slots) and against an
// independent recomputation of summary.json from requests.jsonl.
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../src/profile/load.ts';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { runCli, simProfile, tempDir, writeProfile } from '../helpers.ts';

interface Rec {
  stage: number;
  phase: string;
  ok: boolean;
  t0: number;
  end: number;
  firstContentAt: number | null;
  errorClass: string | null;
  outputTokens: number;
}

/** numpy/R type-7 quantile, written independently of the tool's own code. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.ceil(h)] ?? s[lo]!) - s[lo]!);
}

describe('capacity search against the simulator', () => {
  it('finds capacity = slots (6) with step 2 and bisection, and summary.json is recomputable from requests.jsonl', async () => {
    const dir = tempDir();
    // 20 tokens: a request over the knee waits a whole 400 ms request, far beyond the 90 ms SLO; short stages suffice.
    const file = writeProfile(
      dir,
      'p.yaml',
      simProfile({
        slots: 6,
        concurrency: '{start: 4, step: 2, max: 12}',
        warmup: '300ms',
        duration: '1500ms',
        tokens: 20,
      }),
    );
    const { profile } = await loadProfile(file, { env: {} });
    const result = await runCapacitySearch({ profile, env: {}, outDir: dir });

    expect(result.capacity.concurrency).toBe(6);
    expect(result.capacity.stopReason).toBe('knee_found');
    expect(result.capacity.bracket).toEqual([6, 7]);

    const summary = JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8'));
    expect(summary.schema_version).toBe(1);
    expect(summary.capacity.concurrency).toBe(6);
    // The stage after the knee shows why it failed.
    const failed = summary.stages.filter((s: { verdict: string }) => s.verdict === 'FAIL');
    expect(failed.length).toBeGreaterThan(0);
    for (const s of failed) expect(s.reasons.join(' ')).toMatch(/FAIL p99\(ttft\) = .* needs < 90.0 ms/);

    const records: Rec[] = readFileSync(join(result.runDir, 'requests.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const s of summary.stages) {
      expect(s.windows).toHaveLength(1);
      const ws = s.window.start_ms;
      const we = s.window.end_ms;
      const mine = records.filter((r) => r.stage === s.index);
      const judged = mine.filter((r) => r.phase === 'window');
      const ok = judged.filter((r) => r.ok);
      expect(s.requests).toBe(judged.length);
      expect(s.ok).toBe(ok.length);
      expect(s.success_rate).toBeCloseTo(ok.length / judged.length, 3);
      // Every judged request started inside the window; QPS counts successful completions inside it.
      for (const r of judged) {
        expect(r.t0).toBeGreaterThanOrEqual(ws - 0.001);
        expect(r.t0).toBeLessThan(we + 0.001);
      }
      const okDone = mine.filter((r) => r.ok && r.end >= ws && r.end < we).length;
      expect(s.qps).toBeCloseTo(okDone / ((we - ws) / 1000), 1);
      const ttft = ok.map((r) => r.firstContentAt! - r.t0);
      expect(s.ttft_ms.p99).toBeCloseTo(quantile(ttft, 0.99), 2);
      expect(s.ttft_ms.p50).toBeCloseTo(quantile(ttft, 0.5), 2);
      const e2e = ok.map((r) => r.end - r.t0);
      expect(s.e2e_ms.p90).toBeCloseTo(quantile(e2e, 0.9), 2);
      expect(s.ttft_ms.max).toBeCloseTo(Math.max(...ttft), 2);
      const tokens = mine.filter((r) => r.end >= ws && r.end < we).reduce((a, r) => a + r.outputTokens, 0);
      expect(s.output_tokens_per_s).toBeCloseTo(tokens / ((we - ws) / 1000), 1);
    }
    // `find-capacity report` on a copy of the run directory (summary and report removed) reproduces every number.
    const copy = join(dir, 'copy');
    cpSync(result.runDir, copy, { recursive: true });
    rmSync(join(copy, 'summary.json'));
    rmSync(join(copy, 'report.html'));
    const rebuilt = await runCli(['report', copy]);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toContain('Capacity: 6 concurrent requests');
    const again = JSON.parse(readFileSync(join(copy, 'summary.json'), 'utf8'));
    expect(again.stages).toEqual(summary.stages);
    expect(again.capacity).toEqual(summary.capacity);
    expect(again.efficiency_knee).toEqual(summary.efficiency_knee);
    expect(again.totals).toEqual(summary.totals);
    expect(readFileSync(join(copy, 'report.html'), 'utf8')).toContain('Capacity: 6 concurrent requests');

    // Every request asked for 20 tokens and the simulator reports usage: no estimate.
    const okRecords = records.filter((r) => r.ok);
    expect(okRecords.length).toBeGreaterThan(100);
    for (const r of okRecords) expect(r.outputTokens).toBe(20);
  });
});
