// The synchronous headless renderer against Vega's own async one, and the SVG post-processing.
import * as vega from 'vega';
import { describe, expect, it } from 'vitest';
import { reportCharts } from '../../src/report/charts.ts';
import {
  addSvgTooltips,
  compactSvg,
  compileToVega,
  renderSvg,
  type CompileWarning,
} from '../../src/report/render-svg.ts';
import { textWidth } from '../../src/report/text-width.ts';
import { fixtureSummary } from './helpers.ts';

const charts = reportCharts(fixtureSummary());

describe('renderSvg', () => {
  it.each(charts.map((c) => [c.id, c] as const))(
    'chart %s: byte-identical to vega View.toSVG() and compiles without warnings',
    async (_id, chart) => {
      const warnings: CompileWarning[] = [];
      const sync = renderSvg(chart.spec, warnings);
      expect(warnings.filter((w) => w.level === 'warn')).toEqual([]);
      // Same text metrics as renderSvg uses, so both layouts are computed alike.
      const metrics = (vega as unknown as { textMetrics: { width: unknown } }).textMetrics;
      const saved = metrics.width;
      metrics.width = textWidth;
      try {
        const view = new vega.View(vega.parse(compileToVega(chart.spec)), { renderer: 'none' });
        expect(sync).toBe(await view.toSVG());
        view.finalize();
      } finally {
        metrics.width = saved;
      }
      expect(sync).toMatch(/^<svg [^>]*viewBox="0 0 \d+ \d+"/);
    },
  );

  it('restores Vega text metrics after rendering', () => {
    const metrics = (vega as unknown as { textMetrics: { width: unknown } }).textMetrics;
    const before = metrics.width;
    renderSvg(charts[0]!.spec);
    expect(metrics.width).toBe(before);
  });
});

describe('addSvgTooltips', () => {
  it('gives every data point a <title> with its exact numbers', () => {
    const svg = addSvgTooltips(renderSvg(charts[1]!.spec));
    const points =
      svg.match(
        /<path aria-label="[^"]*" role="graphics-symbol" aria-roledescription="point"[^>]*><title>[^<]*<\/title><\/path>/g,
      ) ?? [];
    const s = fixtureSummary();
    // One point per stage and TTFT percentile (p50, p90, p99).
    expect(points.length).toBe(3 * s.stages.length);
    const first = s.stages[0]!;
    expect(svg).toContain(`<title>Stage ${first.index} (${first.kind}) · concurrency ${first.concurrency} · `);
    expect(svg).toContain(`P99 TTFT: ${first.ttft_ms.p99} ms</title>`);
  });

  it('leaves elements without a label alone and keeps escaped text escaped', () => {
    const svg =
      '<svg><path d="M0,0"/><path aria-label="a &lt;b&gt; &quot;c&quot;" role="graphics-symbol" d="M1,1"/></svg>';
    expect(addSvgTooltips(svg)).toBe(
      '<svg><path d="M0,0"/><path aria-label="a &lt;b&gt; &quot;c&quot;" role="graphics-symbol" d="M1,1"><title>a &lt;b&gt; &quot;c&quot;</title></path></svg>',
    );
  });
});

describe('compactSvg', () => {
  it('rounds geometry but never the text of labels and tooltips', () => {
    const svg =
      '<path aria-label="TTFT: 12.34567 ms" transform="translate(20.000000000000004,138.7)" d="M3.70833,0A3.708,3.708"><title>TTFT: 12.34567 ms</title></path>';
    expect(compactSvg(svg)).toBe(
      '<path aria-label="TTFT: 12.34567 ms" transform="translate(20,138.7)" d="M3.71,0A3.71,3.71"><title>TTFT: 12.34567 ms</title></path>',
    );
  });
});
