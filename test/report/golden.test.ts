// Golden tests of the report's Vega-Lite specs, generated from a recorded run (test/fixtures/runs/demo)
// whose summary is rebuilt from its requests.jsonl, so the whole pipeline records → summary → specs is covered.
//
// After an intended change to the charts, rewrite the golden files and review the diff:
//   UPDATE_GOLDEN=1 npx vitest run test/report/golden.test.ts
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { reportCharts } from '../../src/report/charts.ts';
import { FIXTURE_RUN, GOLDEN_DIR, fixtureSummary } from './helpers.ts';

const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const rebuilt = rebuildSummary(FIXTURE_RUN);
const charts = reportCharts(rebuilt.summary);

describe('report charts: golden Vega-Lite specs', () => {
  it('the recorded run rebuilds to its saved summary.json (every recorded field equal)', () => {
    expect(rebuilt.skippedLines).toBe(0);
    // toMatchObject: fields added to the schema after the recording do not break the comparison.
    expect(JSON.parse(JSON.stringify(rebuilt.summary))).toMatchObject(fixtureSummary());
  });

  it('produces the four charts in reading order', () => {
    expect(charts.map((c) => c.id)).toEqual(['throughput', 'ttft', 'latency', 'errors']);
  });

  it.each(charts.map((chart) => ({ id: chart.id, chart })))(
    'spec of chart $id matches its golden file test/fixtures/golden/<id>.vl.json',
    ({ id, chart }) => {
      const file = join(GOLDEN_DIR, `${id}.vl.json`);
      const actual = JSON.stringify(chart.spec, null, 2) + '\n';
      if (UPDATE || !existsSync(file)) {
        if (!UPDATE)
          throw new Error(`${file} is missing: run UPDATE_GOLDEN=1 npx vitest run test/report/golden.test.ts`);
        mkdirSync(GOLDEN_DIR, { recursive: true });
        writeFileSync(file, actual);
      }
      expect(JSON.parse(actual)).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    },
  );
});
