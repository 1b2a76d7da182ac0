// report.html of real runs against the simulator, opened from disk (file://) in real headless Chromium
// (Debian's chromium driven by playwright-core). Skipped only when /usr/bin/chromium is missing and CI
// is not set; in CI (.ci/run installs chromium) these tests always run.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { loadProfile } from '../../src/profile/load.ts';
import type { SummaryJson } from '../../src/report/summary.ts';
import {
  E2E_PROFILE,
  browserSkipReason,
  expectEveryChartDrawn,
  launchChromium,
  openPage as open,
  tempDir,
} from './helpers.ts';

const SKIP = browserSkipReason();
if (SKIP) console.warn(`skipping the report's browser tests: ${SKIP}`);

// The SLA tiers chart comes first (its section precedes the charts section); the run is against the simulator,
// whose /metrics is scraped: its server chart is checked like the others.
const CHART_IDS = ['sla-tiers', 'throughput', 'ttft', 'latency', 'errors', 'server-metrics'];
const SCRIPT = '<script>window.__pwned=1</script>';
const IMG = '<img src=x onerror="window.__pwned=2">';
const HOSTILE_MESSAGE = `upstream failed: ${SCRIPT} ${IMG}`;
const HOSTILE_MODEL = 'sim <script>window.__pwned=3</script>';

async function runProfile(file: string): Promise<{ runDir: string; summary: SummaryJson; url: string }> {
  const { profile } = await loadProfile(file, { env: {} });
  const { runDir } = await runCapacitySearch({ profile, env: {}, outDir: tempDir() });
  const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as SummaryJson;
  return { runDir, summary, url: pathToFileURL(join(runDir, 'report.html')).href };
}

describe.skipIf(SKIP !== null)('report.html in headless Chromium', () => {
  let ctx: BrowserContext;
  let run: Awaited<ReturnType<typeof runProfile>>;

  beforeAll(async () => {
    run = await runProfile(E2E_PROFILE);
    ctx = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
  });

  it('renders every chart with marks, logs no console error, requests nothing but the file itself, and its headline capacity is summary.json’s', async () => {
    const { page, requests, problems } = await open(ctx, run.url);
    await expectEveryChartDrawn(page, CHART_IDS);
    expect(requests).toEqual([run.url]);
    expect(problems).toEqual([]);

    const headlineText = await page.locator('#headline').innerText();
    const m = /^Capacity: (?:at least )?(\d+) concurrent/.exec(headlineText);
    const shown = m ? Number(m[1]) : /^No capacity/.test(headlineText) ? null : `unparsed: ${headlineText}`;
    expect(shown).toBe(run.summary.capacity.concurrency);
    await expect(page.locator('#stop-reason').innerText()).resolves.toContain(run.summary.capacity.stop_reason);
    // Every stage has a row in the stage table.
    expect(await page.locator('table.stages tr.metrics').count()).toBe(run.summary.stages.length);
    await page.close();
  });

  it('on screen every chart takes the width of the page; printed, each keeps its own size', async () => {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.goto(run.url, { waitUntil: 'load' });
    const sizes = () =>
      page.$$eval('figure.chart svg', (svgs) =>
        svgs.map((svg) => ({
          shown: svg.getBoundingClientRect().width,
          own: Number(svg.getAttribute('width')),
          page: document.querySelector('main')!.getBoundingClientRect().width,
        })),
      );
    const screen = await sizes();
    expect(screen).toHaveLength(CHART_IDS.length);
    for (const c of screen) expect(c.shown).toBeCloseTo(c.page, 0);
    await page.emulateMedia({ media: 'print' });
    for (const c of await sizes()) expect(c.shown).toBeCloseTo(Math.min(c.own, c.page), 0);
    await page.close();
  });

  it.each([
    ['A4', 210],
    ['Letter', 215.9],
  ] as const)('prints on %s portrait with nothing wider than the page', async (format, widthMm) => {
    const page = await ctx.newPage();
    // The printable width in CSS px: the paper minus the 11 mm side margins of the report's @page rule.
    await page.setViewportSize({ width: Math.floor(((widthMm - 22) / 25.4) * 96), height: 1000 });
    await page.goto(run.url, { waitUntil: 'load' });
    await page.emulateMedia({ media: 'print' });
    const overflowing = await page.evaluate(() => {
      const limit = document.documentElement.clientWidth + 0.5;
      return Array.from(document.querySelectorAll('body *'))
        .filter((e) => {
          const r = e.getBoundingClientRect();
          return r.width > 0 && (r.right > limit || r.left < -0.5);
        })
        .map(
          (e) =>
            `${e.tagName.toLowerCase()}.${String(e.getAttribute('class') ?? '')} right=${Math.round(e.getBoundingClientRect().right)}`,
        )
        .slice(0, 10);
    });
    expect(overflowing).toEqual([]);
    const pdf = await page.pdf({ format, printBackground: true });
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    await page.close();
  });

  it('shows a hostile server error message and model name as inert, visible text (no script runs, with or without the CSP)', async () => {
    const dir = tempDir();
    const file = join(dir, 'injection.yaml');
    writeFileSync(
      file,
      `name: injection
target:
  model: ${JSON.stringify(HOSTILE_MODEL)}
  simulator: {preset: tiny, http_500: 0.5, error_message: ${JSON.stringify(HOSTILE_MESSAGE)}}
request:
  messages: [{role: user, content: "hi"}]
  max_tokens: 8
  timeouts: {first_token: 5s, idle: 2s, total: 10s}
ramp:
  concurrency: [1, 2]
  warmup: 100ms
  stage: {duration: 800ms}
  drain: 2s
slo:
  - success_rate >= 10%
verdict: {max_extensions: 0}
stop: {max_error_rate: 99%}
`,
    );
    const hostile = await runProfile(file);
    // The server really sent the message: it is in the raw records.
    expect(readFileSync(join(hostile.runDir, 'requests.jsonl'), 'utf8')).toContain('__pwned=1');

    const html = readFileSync(join(hostile.runDir, 'report.html'), 'utf8');
    const withoutCsp = join(dir, 'report-without-csp.html');
    writeFileSync(withoutCsp, html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, ''));
    expect(readFileSync(withoutCsp, 'utf8')).not.toContain('Content-Security-Policy');

    for (const url of [hostile.url, pathToFileURL(withoutCsp).href]) {
      const { page, requests, problems } = await open(ctx, url);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.evaluate(() => document.querySelectorAll('img, iframe, object, embed').length)).toBe(0);
      expect(await page.evaluate(() => document.querySelectorAll('script:not([type="application/json"])').length)).toBe(
        0,
      );
      const text = await page.locator('body').innerText();
      expect(text).toContain(HOSTILE_MESSAGE);
      expect(text).toContain(HOSTILE_MODEL);
      // The server's own error text, as the client received it, is shown in the stage table's error samples.
      expect(await page.locator('table.stages').innerText()).toContain(`http_5xx: “500 ${HOSTILE_MESSAGE}”`);
      expect(await page.locator('h1').innerText()).toContain(HOSTILE_MODEL);
      expect(requests).toEqual([url]);
      expect(problems).toEqual([]);
      await page.close();
    }
  }, 90_000);
});
