// compare.html opened from disk in real headless Chromium, with the checks report.html passes: every chart
// drawn with marks and tooltips, no console error, no request but the file, printable on A4 and Letter, and
// hostile strings from a run's files shown as inert text. Built from copies of the recorded fixture run.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRunDirs, writeComparison } from '../../src/controller/compare.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import type { Profile } from '../../src/profile/types.ts';
import { CONTENT_SECURITY_POLICY } from '../../src/report/html.ts';
import {
  FIXTURE_RUN,
  browserSkipReason,
  expectEveryChartDrawn,
  launchChromium,
  openPage as open,
  tempDir,
} from './helpers.ts';

const SKIP = browserSkipReason();
if (SKIP) console.warn(`skipping compare.html's browser tests: ${SKIP}`);

const CHART_IDS = ['qps', 'ttft', 'e2e', 'errors'];
const HOSTILE_NAME = 'run <script>window.__pwned=1</script>';
const HOSTILE_MODEL = 'sim <img src=x onerror="window.__pwned=2">';
const HOSTILE_MESSAGE = 'oops </script><script>window.__pwned=3</script>';

/** A copy of the fixture run with its profile and records edited. */
function copy(edit: (p: Profile) => void, records?: (r: RequestRecord) => RequestRecord): string {
  const dir = join(tempDir('fc-compare-html-'), 'run');
  cpSync(FIXTURE_RUN, dir, { recursive: true });
  const profile = JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8')) as Profile;
  edit(profile);
  writeFileSync(join(dir, 'profile.json'), JSON.stringify(profile));
  if (records) {
    const file = join(dir, 'requests.jsonl');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(file, lines.map((l) => JSON.stringify(records(JSON.parse(l) as RequestRecord))).join('\n') + '\n');
  }
  return dir;
}

function compareHtml(a: string, b: string): string {
  const out = tempDir('fc-compare-out-');
  const { html } = writeComparison(out, compareRunDirs(a, b, 0.05));
  return pathToFileURL(html).href;
}

describe.skipIf(SKIP !== null)('compare.html in headless Chromium', () => {
  let ctx: BrowserContext;
  let regressionUrl: string;

  beforeAll(async () => {
    // B: 40 ms more TTFT and no confirmation of FAILs, so its capacity falls to none: a regression.
    const slower = copy(
      (p) => (p.verdict.confirmFailures = false),
      (r) => (r.firstContentAt === null ? r : { ...r, firstContentAt: r.firstContentAt + 40 }),
    );
    regressionUrl = compareHtml(FIXTURE_RUN, slower);
    ctx = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
  });

  it('renders every overlay with marks and tooltips, logs nothing, requests only itself, states the verdict', async () => {
    const { page, requests, problems } = await open(ctx, regressionUrl);
    await expectEveryChartDrawn(page, CHART_IDS);
    expect(requests).toEqual([regressionUrl]);
    expect(problems).toEqual([]);
    await expect(page.locator('#headline').getAttribute('data-verdict')).resolves.toBe('regression');
    await expect(page.locator('#headline').innerText()).resolves.toMatch(/^Regression beyond 5%.*: capacity/);
    await expect(page.locator('#metrics-table tr[data-outcome="regression"]').count()).resolves.toBeGreaterThan(0);
    await page.close();
  });

  it.each([
    ['A4', 210],
    ['Letter', 215.9],
  ] as const)('prints on %s portrait with nothing wider than the page', async (format, widthMm) => {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: Math.floor(((widthMm - 22) / 25.4) * 96), height: 1000 });
    await page.goto(regressionUrl, { waitUntil: 'load' });
    await page.emulateMedia({ media: 'print' });
    const overflowing = await page.evaluate(() => {
      const limit = document.documentElement.clientWidth + 0.5;
      return Array.from(document.querySelectorAll('body *'))
        .filter((e) => {
          const r = e.getBoundingClientRect();
          return r.width > 0 && (r.right > limit || r.left < -0.5);
        })
        .map((e) => `${e.tagName.toLowerCase()}.${String(e.getAttribute('class') ?? '')}`)
        .slice(0, 10);
    });
    expect(overflowing).toEqual([]);
    const pdf = await page.pdf({ format, printBackground: true });
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    await page.close();
  });

  it('shows hostile run names, models and simulator settings as inert text, with or without the CSP', async () => {
    const hostile = copy((p) => {
      p.name = HOSTILE_NAME;
      p.target.model = HOSTILE_MODEL;
      p.target.simulator = { preset: 'tiny', overrides: { error_message: HOSTILE_MESSAGE } };
    });
    const url = compareHtml(FIXTURE_RUN, hostile);
    const file = new URL(url).pathname;
    const html = readFileSync(file, 'utf8');
    expect(html).toContain(`content="${CONTENT_SECURITY_POLICY.replace(/'/g, '&#39;')}"`);
    const withoutCsp = file.replace(/compare\.html$/, 'compare-without-csp.html');
    writeFileSync(withoutCsp, html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, ''));
    for (const u of [url, pathToFileURL(withoutCsp).href]) {
      const { page, requests, problems } = await open(ctx, u);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.evaluate(() => document.querySelectorAll('img, iframe, object, embed').length)).toBe(0);
      expect(await page.evaluate(() => document.querySelectorAll('script:not([type="application/json"])').length)).toBe(
        0,
      );
      // A different model makes the runs not comparable: the difference is listed, as text.
      await expect(page.locator('#headline').getAttribute('data-verdict')).resolves.toBe('not_comparable');
      const diff = await page.locator('#differences-table').innerText();
      expect(diff).toContain(HOSTILE_MODEL);
      const text = await page.locator('body').innerText();
      expect(text).toContain(HOSTILE_NAME);
      expect(text).toContain(HOSTILE_MESSAGE);
      expect(requests).toEqual([u]);
      expect(problems).toEqual([]);
      await page.close();
    }
  }, 60_000);
});
