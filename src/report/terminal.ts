// Terminal output: the stage table and the one-sentence answer (pure string builders).
import type { StageProgress } from '../model/stage.ts';
import type { SummaryJson, StageJson } from './summary.ts';
import { formatMs, formatPct } from '../slo/evaluate.ts';
import { formatDuration } from '../util/units.ts';
import { trafficLines } from './traffic.ts';

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/**
 * One format for a column of percentages: as many decimals as its most demanding value needs (formatPct's choice:
 * 2 near 100 % and 0 %, so that 99.95 % never reads 100 %), so "100%", "99.17%" and "98.3%" do not share a column.
 */
function columnPct(values: readonly (number | null)[]): (x: number | null) => string {
  const decimals = Math.max(0, ...values.map((x) => (formatPct(x).split('.')[1] ?? '%').length - 1));
  return (x) => (x === null || !Number.isFinite(x) ? 'n/a' : `${(x * 100).toFixed(decimals)}%`);
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
  const okPct = columnPct(stages.map((s) => s.success_rate));
  const rows = stages.map((s) => [
    String(s.index),
    String(s.offered_rate ?? s.concurrency),
    s.kind,
    s.verdict + (s.low_confidence ? '~' : ''),
    String(s.requests),
    okPct(s.success_rate),
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

type Stat = 'avg' | 'p50' | 'p90' | 'p95' | 'p99' | 'max';
type LatencyKey = 'ttft_ms' | 'ttfb_ms' | 'e2e_ms' | 'tpot_ms' | 'itl_ms' | 'ttfo_ms';

/**
 * The latency the headline quotes: a streaming run's first TTFT rule, else the first latency rule a run of its kind
 * measures (a non-streaming run has no TTFT), else P99 TTFT (streaming) or P99 E2E.
 */
function quotedLatency(s: SummaryJson): { key: LatencyKey; stat: Stat; label: string } {
  const stream = s.profile.request?.stream !== false;
  const latency = s.profile.slo.flatMap((r) => (r.kind === 'latency' ? [r] : []));
  const measured = latency.filter((r) => stream || r.metric === 'e2e' || r.metric === 'ttfb');
  const rule = (stream ? latency.find((r) => r.metric === 'ttft') : undefined) ?? measured[0];
  const metric = rule?.metric ?? (stream ? 'ttft' : 'e2e');
  const stat = rule?.stat ?? 'p99';
  const name = metric === 'e2e' ? 'E2E' : metric.toUpperCase();
  return { key: `${metric}_ms`, stat, label: `${stat === 'avg' ? 'mean' : stat.toUpperCase()} ${name}` };
}

/** " at 12.40 QPS with P99 TTFT 84 ms" for the stage the capacity was measured at; empty without one. */
function atCapacity(s: SummaryJson): string {
  const c = s.capacity;
  const stage = [...s.stages].reverse().find((x) => x.concurrency === c.concurrency && x.verdict === 'PASS');
  if (!c.at_capacity || !stage) return '';
  const q = quotedLatency(s);
  return ` at ${(c.at_capacity.qps ?? 0).toFixed(2)} QPS with ${q.label} ${formatMs(stage[q.key][q.stat])}`;
}

/** Why a run stopped before its search finished (an interrupt or a safety limit), as a clause; else null. */
function stoppedEarly(s: SummaryJson): string | null {
  const l = s.profile.limits;
  switch (s.capacity.stop_reason) {
    case 'interrupted':
      return 'the run was interrupted';
    case 'limit_duration':
      return `the run reached limits.max_duration (${formatDuration(l.maxDurationMs)})`;
    case 'limit_requests':
      return `the run reached limits.max_requests (${l.maxRequests})`;
    case 'limit_output_tokens':
      return `the run reached limits.max_output_tokens (${l.maxOutputTokens})`;
    default:
      return null;
  }
}

/** The headline when no level passed: never "not met" for a run stopped before any stage completed. */
function noCapacity(s: SummaryJson, early: string | null): string {
  const complete = s.stages.filter((x) => !x.partial);
  if (early && complete.length === 0) return `No capacity measured: ${early} before any stage completed.`;
  const first = (early ? complete : s.stages)[0];
  const lowest = first ? ` (lowest tested: ${first.concurrency})` : '';
  // Neither judged the endpoint against the SLO: never say it was not met.
  if (s.capacity.stop_reason === 'generator_limit')
    return `No capacity measured: the load generator could not hold ${first?.concurrency ?? 'the lowest'} concurrent requests, the lowest level tested, so the endpoint was not judged.`;
  if (s.capacity.stop_reason === 'target_unreachable')
    return `No capacity measured: the target stopped accepting connections${lowest}.`;
  if (early)
    return `No capacity: the SLO was not met at any completed stage${lowest}; ${early} before the search finished.`;
  return `No capacity: the SLO was not met at any tested concurrency${lowest}.`;
}

/** The answer in one sentence, e.g. "Capacity: 16 concurrent requests at 12.4 QPS with P99 TTFT 84 ms." */
export function headline(s: SummaryJson): string {
  if (s.profile.ramp?.rate) return rateHeadline(s);
  const c = s.capacity;
  const early = stoppedEarly(s);
  if (c.concurrency === null) return noCapacity(s, early);
  const plural = c.concurrency === 1 ? '' : 's';
  let text = `Capacity: ${c.concurrency} concurrent request${plural}${atCapacity(s)}.`;
  if (c.stop_reason === 'max_reached')
    text = `Capacity: at least ${c.concurrency} concurrent requests (no knee up to the maximum tested)${atCapacity(s)}.`;
  else if (early && c.bracket === null)
    text = `Capacity so far: at least ${c.concurrency} concurrent request${plural} (the last completed PASS)${atCapacity(s)}; ${early} before the search finished.`;
  const failAt = c.bracket?.[1];
  if (failAt !== undefined) {
    const failStage = [...s.stages].reverse().find((x) => x.concurrency === failAt && x.verdict === 'FAIL');
    const broken = failStage?.rules.filter((r) => r.pass === false).map((r) => r.reason);
    if (failStage && broken && broken.length > 0) text += ` At ${failAt}: ${broken.join('; ')}.`;
  }
  return text;
}

const roughDuration = (ms: number) => (ms < 1000 ? '0s' : formatDuration(Math.round(ms / 1000) * 1000));

/** "1m12s elapsed, at most 3m48s left": the run so far against the upper bound of the whole search. */
export function searchClock(elapsedMs: number, boundMs: number): string {
  return `${roughDuration(elapsedMs)} elapsed, at most ${roughDuration(Math.max(0, boundMs - elapsedMs))} left`;
}

/** The live line on a terminal: the stage so far, then the whole search (`clock`, from searchClock). */
export function progressLine(stage: string, p: StageProgress, clock: string): string {
  const phase = p.inWindow ? 'measuring' : 'warm-up';
  return `${stage} ${p.rate === undefined ? `c=${p.concurrency}` : `rate=${p.rate}/s`} ${(p.elapsedMs / 1000).toFixed(1)}s ${phase} done=${p.done} qps=${p.okPerS.toFixed(2)} p99(ttft)=${formatMs(p.ttftP99Ms)} errors=${p.failed} | ${clock}`;
}

/** What `~` means, and for each such stage how many requests (and how long a window) would have decided it. */
function lowConfidenceLines(stages: readonly StageJson[]): string[] {
  const lines = ['~ = decided on the point estimate: too few samples for the confidence interval to decide.'];
  for (const st of stages) {
    if (!st.low_confidence) continue;
    const sizes = st.reasons.map((r) => /To decide: (.*)$/.exec(r)?.[1]).find((x) => x !== undefined);
    if (sizes)
      lines.push(
        `  stage ${st.index} (${st.offered_rate == null ? `concurrency ${st.concurrency}` : `${st.offered_rate} req/s`}): ${sizes}`,
      );
  }
  return lines;
}

/** A rate run's answer, e.g. "Capacity: 7.6 requests/s offered (7.5 achieved, goodput 7.4/s) with P99 TTFT 1.2 s." */
export function rateHeadline(s: SummaryJson): string {
  const c = s.capacity;
  const { stat } = quotedLatency(s);
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
  const traffic = trafficLines(s);
  if (traffic.length > 0) lines.push(...traffic, '');
  if (s.stages.some((x) => x.low_confidence)) lines.push(...lowConfidenceLines(s.stages));
  lines.push(headline(s));
  lines.push(`Stopped: ${s.capacity.stop_reason} — ${s.capacity.stop_detail}`);
  if ((s.efficiency_knee.concurrency ?? s.efficiency_knee.rate) !== null || s.efficiency_knee.best_qps !== null)
    lines.push(`Efficiency knee: ${s.efficiency_knee.explanation}`);
  // `?? null`: summaries written before the server metrics have no such key.
  const why = s.knee_explanation ?? null;
  if (why !== null) lines.push(`Why the knee: ${why.sentence}`);
  lines.push(`Run directory: ${runDir}`);
  return lines.join('\n');
}
