// Full-page PNG of a report, for docs/report-screenshot.png (not a test: vitest only runs *.test.ts).
//   node bin/find-capacity.mjs profiles/demo.yaml --out /tmp/fc-demo
//   npx tsx test/report/screenshot.ts /tmp/fc-demo/demo-*/report.html docs/report-screenshot.png
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from './helpers.ts';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: npx tsx test/report/screenshot.ts <report.html> <out.png>');
  process.exit(2);
}
const ctx = await launchChromium();
try {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1000, height: 1000 });
  await page.goto(pathToFileURL(resolve(input)).href, { waitUntil: 'load' });
  await page.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
} finally {
  await ctx.close();
}
