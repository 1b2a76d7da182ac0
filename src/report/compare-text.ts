// Terminal output of `find-capacity compare`: the metric table and the verdict (pure string builders).
import type { Comparison, MetricComparison, MetricUnit } from '../model/compare.ts';
import { formatMs, formatPct } from '../slo/evaluate.ts';

export const OUTCOME_LABEL: Readonly<Record<MetricComparison['outcome'], string>> = {
  regression: 'REGRESSION',
  worse_within_tolerance: 'worse, within allowance',
  improvement: 'improvement',
  no_significant_change: 'no significant change',
};

const pct = (x: number) => `${(x * 100).toFixed(Number.isInteger(x * 100) ? 0 : 1)}%`;

/** A value in its unit: "16", "14.12 req/s", "30.9 ms", "0.50%"; unbounded ends read ∞. */
export function formatValue(unit: MetricUnit, x: number | null): string {
  if (x === null) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (unit === 'concurrency') return String(x);
  if (unit === 'req/s') return `${x.toFixed(2)} req/s`;
  return unit === 'ms' ? formatMs(x) : formatPct(x);
}

export function formatInterval(unit: MetricUnit, interval: [number, number] | null): string {
  return interval === null ? 'n/a' : `[${formatValue(unit, interval[0])}, ${formatValue(unit, interval[1])}]`;
}

export function changeText(m: MetricComparison): string {
  if (m.change === null) return '';
  const sign = m.change >= 0 ? '+' : '−';
  return m.metric === 'error_rate'
    ? `${sign}${(Math.abs(m.change) * 100).toFixed(1)} pt`
    : `${sign}${(Math.abs(m.change) * 100).toFixed(1)}%`;
}

export function metricTable(metrics: readonly MetricComparison[]): string {
  const head = ['metric', 'A', 'B', 'change', 'result'];
  const rows = metrics.map((m) => [
    m.label,
    formatValue(m.unit, m.a.value),
    formatValue(m.unit, m.b.value),
    changeText(m),
    OUTCOME_LABEL[m.outcome],
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 1 && i <= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The answer in one sentence per line: the verdict and what decided it. */
export function compareVerdict(c: Comparison): string[] {
  if (c.verdict === 'not_comparable')
    return [
      `Not comparable: the runs differ in ${c.differences.length === 1 ? 'one thing' : `${c.differences.length} things`} that change what is measured:`,
      ...c.differences.map((d) => `  ${d.what}: A ${d.a} | B ${d.b}`),
    ];
  const regressions = c.metrics.filter((m) => m.outcome === 'regression');
  const within = `beyond ${pct(c.maxRegression)} (${Math.round(c.confidence * 100)}% confidence intervals)`;
  if (regressions.length === 0) return [`No significant regression ${within}.`];
  return [`Regression ${within}:`, ...regressions.map((m) => `  ${m.detail}`)];
}

export function compareText(c: Comparison, files: { html: string; json: string } | null): string {
  const run = (r: Comparison['a']) =>
    `${r.label}: ${r.dir} (${r.name}, ${r.target}; capacity ${r.capacity.concurrency ?? 'none'}, ${r.capacity.stopReason})`;
  const lines = [run(c.a), run(c.b), ''];
  if (c.metrics.length > 0) lines.push(metricTable(c.metrics), '');
  lines.push(...compareVerdict(c));
  if (c.notes.length > 0) {
    lines.push('', 'Other differences (they do not prevent the comparison):');
    for (const n of c.notes) lines.push(`  ${n.what}: A ${n.a} | B ${n.b}`);
  }
  if (files) lines.push('', `Comparison: ${files.html}`, `            ${files.json}`);
  return lines.join('\n');
}
