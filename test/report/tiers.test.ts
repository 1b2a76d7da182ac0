// report.html's "SLA tiers" section and chart, built from a rebuilt recorded run.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rebuildSummary } from '../../src/controller/rebuild.ts';
import { renderReportHtml } from '../../src/report/html.ts';
import { renderSvg, type CompileWarning } from '../../src/report/render-svg.ts';
import { tiersChart } from '../../src/report/tiers-chart.ts';
import { slaTiersSection, tierCapacityText } from '../../src/report/tiers-html.ts';
import type { Profile } from '../../src/profile/types.ts';
import { FIXTURE_RUN, fixtureSummary, tempDir } from './helpers.ts';
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

  it('says when tiers are turned off or there is no latency rule to tier', () => {
    const off = { ...summary, slo_frontier: { ...summary.slo_frontier!, factors: [], rules: [] } };
    expect(slaTiersSection(off)).toContain('SLA tiers are turned off');
    const none = { ...summary, slo_frontier: { ...summary.slo_frontier!, rules: [] } };
    expect(slaTiersSection(none)).toContain('No latency SLO rule');
  });

  it('explains how to get tiers for a summary written before they existed', () => {
    const old = fixtureSummary();
    expect(old.slo_frontier).toBeUndefined();
    expect(slaTiersSection(old)).toContain('find-capacity report &lt;run-dir&gt;</code> recomputes them');
  });
});

describe('sizing in the SLA tiers section', () => {
  it('adds replicas and cost per 1M output tokens to every tier, and a sizing sentence at the capacity', () => {
    const dir = join(tempDir(), 'run');
    cpSync(FIXTURE_RUN, dir, { recursive: true });
    const profile = JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8')) as Profile;
    profile.report.sizing = { peakQps: 100, redundancy: 1, costPerHour: 3.6, currency: 'EUR' };
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(profile));
    const { summary } = rebuildSummary(dir);
    const at = summary.sizing!.at_capacity!;
    // Capacity 4 at 33.778 QPS: ceil(100 / 33.778) = 3, + 1 spare.
    expect(at).toMatchObject({ concurrency: 4, qps: 33.778, replicas: 4, fleet_cost_per_hour: 14.4 });
    expect(at.cost_per_million_output_tokens).toBeCloseTo((3.6 / (549.556 * 3600)) * 1e6, 3);
    const own = summary.slo_frontier!.rules[0]!.tiers.find((t) => t.factor === 1)!;
    expect(own.replicas).toBe(at.replicas);
    expect(own.cost_per_million_output_tokens).toBe(at.cost_per_million_output_tokens);
    const section = slaTiersSection(summary);
    expect(section).toContain('<th scope="col">Replicas for 100 QPS</th>');
    expect(section).toContain('<th scope="col">Cost per 1M output tokens</th>');
    expect(section).toContain(
      '4 replicas serve a peak of 100 QPS at 33.78 QPS each (capacity 4 concurrent), 1 of them spare',
    );
    expect(section).toContain('14.40 EUR per hour for the fleet');
  });
});
