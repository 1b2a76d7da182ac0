// Terminal output: the stage table and the one-sentence answer (pure string builders).
import type { SummaryJson, StageJson } from './summary.ts';
import { formatMs, formatPct } from '../slo/evaluate.ts';

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

export function stageTable(stages: readonly StageJson[]): string {
  const rate = stages.some((s) => s.offered_rate != null);
  const head = [
    '#',
    rate ? 'rate' : 'conc',
    'kind',
    'verdict',
    'reqs',
    'ok%',
    'qps',
    'goodput',
    'tok/s',
    'ttft p50',
    'ttft p99',
    'e2e p99',
    'errors',
  ];
  const rows = stages.map((s) => [
    String(s.index),
    String(s.offered_rate ?? s.concurrency),
    s.kind,
    s.verdict + (s.low_confidence ? '~' : ''),
    String(s.requests),
    formatPct(s.success_rate),
    (s.qps ?? 0).toFixed(2),
    s.goodput === null || s.goodput === undefined ? '-' : s.goodput.toFixed(2),
    (s.output_tokens_per_s ?? 0).toFixed(0),
    formatMs(s.ttft_ms.p50),
    formatMs(s.ttft_ms.p99),
    formatMs(s.e2e_ms.p99),
    Object.entries(s.errors)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ') || '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = new Set([0, 1, 4, 5, 6, 7, 8, 9, 10, 11]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]!, numeric.has(i)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The TTFT statistic the headline quotes: the one the first TTFT SLO rule uses, else p99. */
function ttftStat(s: SummaryJson): 'avg' | 'p50' | 'p90' | 'p95' | 'p99' | 'max' {
  for (const r of s.profile.slo) if (r.kind === 'latency' && r.metric === 'ttft') return r.stat;
  return 'p99';
}

/** The answer in one sentence, e.g. "Capacity: 16 concurrent requests at 12.4 QPS with P99 TTFT 84 ms." */
export function headline(s: SummaryJson): string {
  if (s.profile.ramp?.rate) return rateHeadline(s);
  const c = s.capacity;
  const stat = ttftStat(s);
  const statLabel = stat === 'avg' ? 'mean' : stat.toUpperCase();
  if (c.concurrency === null) {
    const first = s.stages[0];
    return `No capacity: the SLO was not met at any tested concurrency${first ? ` (lowest tested: ${first.concurrency})` : ''}.`;
  }
  const at = c.at_capacity;
  let text = `Capacity: ${c.concurrency} concurrent request${c.concurrency === 1 ? '' : 's'}`;
  if (at) text += ` at ${(at.qps ?? 0).toFixed(2)} QPS with ${statLabel} TTFT ${formatMs(at.ttft_ms[stat])}`;
  text += '.';
  if (c.stop_reason === 'max_reached')
    text =
      `Capacity: at least ${c.concurrency} concurrent requests (no knee up to the maximum tested)` +
      (at ? ` at ${(at.qps ?? 0).toFixed(2)} QPS with ${statLabel} TTFT ${formatMs(at.ttft_ms[stat])}.` : '.');
  const failAt = c.bracket?.[1];
  if (failAt !== undefined) {
    const failStage = [...s.stages].reverse().find((x) => x.concurrency === failAt && x.verdict === 'FAIL');
    const broken = failStage?.rules.filter((r) => r.pass === false).map((r) => r.reason);
    if (failStage && broken && broken.length > 0) text += ` At ${failAt}: ${broken.join('; ')}.`;
  }
  return text;
}

/** A rate run's answer, e.g. "Capacity: 7.6 requests/s offered (7.5 achieved, goodput 7.4/s) with P99 TTFT 1.2 s." */
export function rateHeadline(s: SummaryJson): string {
  const c = s.capacity;
  const stat = ttftStat(s);
  const statLabel = stat === 'avg' ? 'mean' : stat.toUpperCase();
  const rate = c.rate ?? null;
  if (rate === null) {
    const first = s.stages[0];
    return `No capacity: the SLO was not met at any tested rate${first ? ` (lowest tested: ${first.offered_rate ?? '?'} requests/s)` : ''}.`;
  }
  const at = c.at_capacity;
  const measured = at
    ? ` (${(at.achieved_rate ?? at.qps ?? 0).toFixed(2)} achieved, goodput ${at.goodput === null ? 'n/a' : `${at.goodput.toFixed(2)}/s`}) with ${statLabel} TTFT ${formatMs(at.ttft_ms[stat])} from the scheduled send time`
    : '';
  let text =
    c.stop_reason === 'max_reached'
      ? `Capacity: at least ${rate} requests/s offered (no knee up to the maximum tested)${measured}.`
      : `Capacity: ${rate} requests/s offered${measured}.`;
  const failAt = c.bracket?.[1];
  if (failAt !== undefined) {
    const failStage = [...s.stages].reverse().find((x) => x.offered_rate === failAt && x.verdict === 'FAIL');
    const broken = failStage?.rules.filter((r) => r.pass === false).map((r) => r.reason);
    if (failStage && broken && broken.length > 0) text += ` At ${failAt} requests/s: ${broken.join('; ')}.`;
  }
  return text;
}

export function finalReport(s: SummaryJson, runDir: string): string {
  const lines = [stageTable(s.stages), ''];
  if (s.stages.some((x) => x.low_confidence))
    lines.push('~ = decided on the point estimate: too few samples for the confidence interval to decide.');
  lines.push(headline(s));
  lines.push(`Stopped: ${s.capacity.stop_reason} — ${s.capacity.stop_detail}`);
  if ((s.efficiency_knee.concurrency ?? s.efficiency_knee.rate) !== null)
    lines.push(`Efficiency knee: ${s.efficiency_knee.explanation}`);
  lines.push(`Run directory: ${runDir}`);
  return lines.join('\n');
}
