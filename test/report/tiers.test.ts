// report.html's "SLA tiers" section and chart, built from a rebuilt recorded run.
import { describe, expect, it } from 'vitest';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { renderReportHtml } from '../../src/report/html.ts';
import { renderSvg, type CompileWarning } from '../../src/report/render-svg.ts';
import { tiersChart } from '../../src/report/tiers-chart.ts';
import { slaTiersSection, tierCapacityText } from '../../src/report/tiers-html.ts';
import { FIXTURE_RUN, fixtureSummary } from './helpers.ts';
import { expectTiersConsistent } from './tiers-check.ts';

describe('SLA tiers in the report of the recorded fixture run', () => {
  const { summary } = rebuildSummary(FIXTURE_RUN);
  const html = renderReportHtml(summary);
  const section = /<section id="sla-tiers">[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';

  it('has a section titled "SLA tiers" with one row per tier, consistent with the stages', () => {
    expect(section).toContain('<h2>SLA tiers</h2>');
    const tiers = expectTiersConsistent(summary);
    expect(tiers).toBe(8);
    expect(section.match(/<tr[^>]* data-range=/g)).toHaveLength(tiers);
    for (const rule of summary.slo_frontier!.rules)
      for (const t of rule.tiers)
        expect(section).toContain(`<strong>${tierCapacityText(t).replace('<', '&lt;')}</strong>`);
  });

  it('says when a tier lies outside the tested range', () => {
    expect(section).toContain('data-range="below"');
    expect(section).toContain('below the tested range: p99(ttft) &lt; 12.5ms already failed at 2');
    expect(section).toContain('data-range="above"');
    expect(section).toContain('above the tested range');
    expect(section).toContain('<strong>≥ 6</strong>');
  });

  it('draws the tiers chart as SVG with a titled point per plotted tier, compiled without warnings', () => {
    const warnings: CompileWarning[] = [];
    const chart = tiersChart(summary.slo_frontier!, [2, 4, 5, 6]);
    const svg = renderSvg(chart.spec, warnings);
    expect(warnings.filter((w) => w.level === 'warn')).toEqual([]);
    expect(svg).toContain('capacity ≥ 6, at least (above the tested range)');
    expect(section).toContain('id="chart-sla-tiers"');
    expect((section.match(/<title>/g) ?? []).length).toBeGreaterThanOrEqual(8);
  });

  it('explains how to get tiers for a summary written before they existed', () => {
    const old = fixtureSummary();
    expect(old.slo_frontier).toBeUndefined();
    expect(slaTiersSection(old)).toContain('find-capacity report &lt;run-dir&gt;</code> recomputes them');
  });
});
