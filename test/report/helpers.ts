// Helpers of the report tests: the recorded fixture run, synthetic summaries, headless Chromium.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { StageJson, SummaryJson } from '../../src/report/summary.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
/** A real run of test/fixtures/profiles/report-e2e.yaml (knee at 4, confirm and bisect stages, injected errors). */
export const FIXTURE_RUN = join(ROOT, 'test', 'fixtures', 'runs', 'demo');
export const GOLDEN_DIR = join(ROOT, 'test', 'fixtures', 'golden');
export const E2E_PROFILE = join(ROOT, 'test', 'fixtures', 'profiles', 'report-e2e.yaml');
export const CHROMIUM = '/usr/bin/chromium';

export function fixtureSummary(): SummaryJson {
  return JSON.parse(readFileSync(join(FIXTURE_RUN, 'summary.json'), 'utf8')) as SummaryJson;
}

export function tempDir(prefix = 'fc-report-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A run of `n` stages, every one carrying long reasons and several error classes: the worst case for
 * report size that a real run of that length can produce.
 */
export function syntheticSummary(n = 30): SummaryJson {
  const base = fixtureSummary();
  const template = base.stages[0]!;
  const classes = [
    'http_429',
    'http_5xx',
    'timeout_first_token',
    'connection_reset',
    'stream_truncated',
    'malformed_chunk',
  ];
  const stages: StageJson[] = [];
  for (let i = 0; i < n; i++) {
    const c = 8 * (i + 1);
    const fail = i >= n - 6;
    const ttft = 20 + i * 3 + (fail ? 400 * (i - n + 7) : 0);
    const d = (x: number) => ({
      count: 400 + i,
      avg: x * 1.1,
      p50: x,
      p90: x * 1.4,
      p95: x * 1.6,
      p99: x * 2.1,
      max: x * 3.3,
    });
    const errors: Record<string, number> = {};
    for (const [k, cls] of classes.entries()) if ((i + k) % 2 === 0) errors[cls] = 1 + ((i * 7 + k) % 5);
    const failed = Object.values(errors).reduce((a, b) => a + b, 0);
    const verdict = fail ? 'FAIL' : i % 9 === 4 ? 'INCONCLUSIVE' : i % 11 === 7 ? 'INVALID' : 'PASS';
    stages.push({
      ...template,
      index: i,
      concurrency: c,
      kind: i % 5 === 3 ? 'bisect' : i % 7 === 5 ? 'confirm' : 'ramp',
      verdict,
      low_confidence: i % 3 === 0,
      reasons: [
        `${fail ? 'FAIL' : 'ok'} p99(ttft) = ${(ttft * 2.1).toFixed(0)} ms (95% CI ${(ttft * 2).toFixed(0)} ms – ${(ttft * 2.3).toFixed(0)} ms), needs < 1 s`,
        `ok success_rate = ${(100 - failed / 4).toFixed(2)}% (95% CI 98.1% – 99.9%), needs >= 95.00%`,
        'generator: event-loop delay p99 25.3 ms > 20 ms: the load generator’s timestamps are late; achieved concurrency 71.9 is below 90% of the target 80',
      ],
      requests: 400 + i,
      ok: 400 + i - failed,
      failed,
      success_rate: (400 + i - failed) / (400 + i),
      error_rate: failed / (400 + i),
      errors,
      qps: Math.min(c, 120) * 1.7,
      output_tokens_per_s: Math.min(c, 120) * 1.7 * 250,
      ttft_ms: d(ttft),
      ttfb_ms: d(ttft / 3),
      e2e_ms: d(ttft + 4000),
      tpot_ms: d(14 + i / 10),
      itl_ms: d(14 + i / 10),
    });
  }
  return {
    ...base,
    capacity: { ...base.capacity, concurrency: 8 * (n - 6), bracket: [8 * (n - 6), 8 * (n - 5)] },
    stages,
  };
}

/** Skip reason when the browser tests cannot run here; in CI (CI set) they must run, so never skip there. */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM)) return null;
  if (process.env['CI']) return null;
  return `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the report's browser tests`;
}

export async function launchChromium(): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(tempDir('fc-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Opens a page that records every request and every console error or warning. */
export async function openPage(
  ctx: BrowserContext,
  url: string,
): Promise<{ page: Page; requests: string[]; problems: string[] }> {
  const page = await ctx.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, problems };
}

/** Every chart of a page is drawn: wide enough, with points, more marks than points, a tooltip on each point. */
export async function expectEveryChartDrawn(page: Page, ids: readonly string[]): Promise<void> {
  const charts = await page.$$eval('figure.chart', (figs) =>
    figs.map((f) => {
      const svg = f.querySelector('svg');
      return {
        id: (f as HTMLElement).dataset['chart'],
        width: svg?.getBoundingClientRect().width ?? 0,
        points: f.querySelectorAll('svg g.mark-symbol.role-mark path[role="graphics-symbol"]').length,
        marks: f.querySelectorAll('svg g.role-mark path, svg g.role-mark line, svg g.role-mark rect').length,
        tooltips: f.querySelectorAll('svg g.role-mark title').length,
      };
    }),
  );
  expect(charts.map((c) => c.id)).toEqual(ids);
  for (const c of charts) {
    expect(c.width, c.id).toBeGreaterThan(200);
    expect(c.points, c.id).toBeGreaterThan(0);
    expect(c.marks, c.id).toBeGreaterThan(c.points);
    expect(c.tooltips, c.id).toBeGreaterThanOrEqual(c.points);
  }
}
