// report.html's "SLA tiers" section: the capacity at each tier of each latency rule, with sizing and cost.
import { formatMs } from '../slo/evaluate.ts';
import { chartFigure, esc } from './html-parts.ts';
import type { SizingJson, SloFrontierJson } from './review-json.ts';
import type { SummaryJson } from './summary.ts';
import { tiersChart } from './tiers-chart.ts';

type TierJson = SloFrontierJson['rules'][number]['tiers'][number];

const fmtQps = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
const fmtInt = (x: number | null) => (x === null ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fmtMoney = (x: number | null, currency: string) =>
  x === null ? 'n/a' : `${x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(2)} ${currency}`;
const factorText = (f: number) => `${f}×`;

/** The capacity cell: "16", "≥ 32" (above the tested range) or "< 12" (below it). */
export function tierCapacityText(t: Pick<TierJson, 'concurrency' | 'range' | 'first_fail'>): string {
  if (t.range === 'below') return `< ${t.first_fail?.concurrency ?? 'lowest tested'}`;
  if (t.concurrency === null) return 'not measured';
  return t.range === 'above' ? `≥ ${t.concurrency}` : String(t.concurrency);
}

function tierRow(rule: string, stat: string, t: TierJson, sizing: SizingJson | null, first: boolean, span: number) {
  const own = t.factor === 1 ? ' class="own"' : '';
  const measured =
    t.value_ms === null
      ? '–'
      : `${esc(formatMs(t.value_ms))}${t.low_confidence ? ' <span class="lowconf" title="low confidence: decided on the point estimate">low&nbsp;conf.</span>' : ''}`;
  const cells = [
    `<td class="num">${esc(factorText(t.factor))}</td>`,
    `<td class="num">${esc(formatMs(t.threshold_ms))}</td>`,
    `<td class="num"><strong>${esc(tierCapacityText(t))}</strong></td>`,
    `<td class="num">${fmtQps(t.qps)}</td>`,
    `<td class="num">${fmtInt(t.output_tokens_per_s)}</td>`,
    `<td class="num">${measured}</td>`,
  ];
  if (sizing?.peak_qps != null) cells.push(`<td class="num">${t.replicas ?? 'n/a'}</td>`);
  if (sizing?.cost_per_hour != null)
    cells.push(`<td class="num">${esc(fmtMoney(t.cost_per_million_output_tokens, sizing.currency))}</td>`);
  cells.push(`<td class="small">${esc(t.detail)}</td>`);
  const head = first
    ? `<th scope="rowgroup" rowspan="${span}"><code>${esc(rule)}</code><br><span class="small">${esc(stat)}</span></th>`
    : '';
  return `<tr${own} data-range="${esc(t.range)}">${head}${cells.join('')}</tr>`;
}

function tiersTable(frontier: SloFrontierJson, sizing: SizingJson | null): string {
  const cols = ['Rule', 'Tier', 'Threshold', 'Capacity', 'QPS', 'Output tokens/s', 'Measured at capacity'];
  if (sizing?.peak_qps != null) cols.push(`Replicas for ${sizing.peak_qps} QPS`);
  if (sizing?.cost_per_hour != null) cols.push(`Cost per 1M output tokens`);
  cols.push('Note');
  const head = `<thead><tr>${cols.map((c) => `<th scope="col">${esc(c)}</th>`).join('')}</tr></thead>`;
  const bodies = frontier.rules.map(
    (r) =>
      `<tbody>${r.tiers.map((t, i) => tierRow(r.rule, `${r.stat} of ${r.metric.toUpperCase()}`, t, sizing, i === 0, r.tiers.length)).join('')}</tbody>`,
  );
  return `<div class="scroll"><table class="tiers" id="sla-tiers-table">${head}${bodies.join('')}</table></div>`;
}

/** One paragraph: replicas and cost at the capacity. */
export function sizingText(sizing: SizingJson): string {
  const at = sizing.at_capacity;
  if (at === null || sizing.note) return sizing.note ?? 'no capacity to size';
  const parts: string[] = [];
  if (sizing.peak_qps !== null)
    parts.push(
      at.replicas === null
        ? 'replicas cannot be counted'
        : `${at.replicas} replica${at.replicas === 1 ? '' : 's'} serve a peak of ${sizing.peak_qps} QPS at ${fmtQps(at.qps)} QPS each (capacity ${at.concurrency} concurrent), ${sizing.redundancy} of them spare`,
    );
  if (at.fleet_cost_per_hour !== null)
    parts.push(`${fmtMoney(at.fleet_cost_per_hour, sizing.currency)} per hour for the fleet`);
  if (sizing.cost_per_hour !== null)
    parts.push(
      `1M output tokens cost ${fmtMoney(at.cost_per_million_output_tokens, sizing.currency)} on one replica at capacity (${fmtInt(at.output_tokens_per_s)} tokens/s, ${fmtMoney(sizing.cost_per_hour, sizing.currency)} per hour)`,
    );
  return parts.join('; ');
}

function testedLevels(s: SummaryJson): number[] {
  return [
    ...new Set(s.stages.filter((st) => !st.partial && st.verdict !== 'INVALID').map((st) => st.concurrency)),
  ].sort((a, b) => a - b);
}

/** The section titled "SLA tiers"; for a summary written before tiers existed, a note on how to add them. */
export function slaTiersSection(s: SummaryJson): string {
  const frontier = (s.slo_frontier ?? null) as SloFrontierJson | null;
  const sizing = (s.sizing ?? null) as SizingJson | null;
  const intro = `<p>Which latency can be promised at which load: each latency SLO rule judged again at ${frontier && frontier.factors.length > 0 ? frontier.factors.map(factorText).join(', ') : 'several multiples of'} its threshold (<code>report.tiers</code>) on the stages this run recorded, with the same confidence intervals. The capacity of a tier is the highest tested concurrency whose stage passes, with every lower tested concurrency passing. Capacities marked ≥ or &lt; lie outside the tested range.</p>`;
  const sized = sizing
    ? `<p class="callout info" id="sizing"><strong>Sizing:</strong> ${esc(sizingText(sizing))}. <span class="small">${esc(sizing.formula)}.</span></p>`
    : '';
  let body: string;
  if (frontier === null)
    body =
      '<p class="note">This summary has no SLA tiers (it was written before they existed): <code>find-capacity report &lt;run-dir&gt;</code> recomputes them from the run\'s records.</p>';
  else if (frontier.factors.length === 0)
    body = '<p class="note">SLA tiers are turned off (<code>report.tiers: []</code> in the profile).</p>';
  else if (frontier.rules.length === 0)
    body = '<p class="note">No latency SLO rule: there is no threshold to tier.</p>';
  else body = `${tiersTable(frontier, sizing)}${chartFigure(tiersChart(frontier, testedLevels(s)))}`;
  return `<section id="sla-tiers"><h2>SLA tiers</h2>${intro}${sized}${body}</section>`;
}

/** Styles of the tiers table, appended to the report's. */
export const TIERS_CSS = `
table.tiers { font-size: 12px; margin: 8px 0; }
table.tiers thead th { background: var(--bg-soft); }
table.tiers tbody { border-top: 2px solid var(--line); }
table.tiers tr.own td { background: #f0f7f1; }
table.tiers th[scope=rowgroup] { background: var(--bg-soft); }
table.tiers th[scope=rowgroup] code { white-space: nowrap; }
@media print { table.tiers { font-size: 7.5pt; } table.tiers tr.own td { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
`;
