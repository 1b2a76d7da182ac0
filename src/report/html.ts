// report.html: one self-contained file, no script, built from summary.json alone (docs/design-notes.md, "Report page").
// Every string from the server, the profile or the environment goes through `esc` (JSON data blocks: `scriptJson`).
import type { TopLevelSpec } from 'vega-lite';
import { MIN_TTFT_OVERHEAD_SAMPLES } from '../model/verdict.ts';
import type { Profile } from '../profile/types.ts';
import { formatMs, formatPct } from '../slo/evaluate.ts';
import { reportCharts, VERDICT_COLORS } from './charts.ts';
import { chartFigure, esc, pageHead } from './html-parts.ts';
import { kneeExplanationHtml, serverMetricsChart, serverStageDetail } from './server-report.ts';
import type { StageJson, SummaryJson } from './summary.ts';
import { cpusText, nodeText } from './environment.ts';
import { headline } from './terminal.ts';
import { slaTiersSection, TIERS_CSS } from './tiers-html.ts';
import { trafficSection } from './traffic.ts';

export { CONTENT_SECURITY_POLICY } from './html-parts.ts';

export { esc };

/** JSON for a <script> data block: `</script>`, `<!--` and line separators cannot end or confuse it. */
export function scriptJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const fmtQps = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
const fmtInt = (x: number | null) => (x === null ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fmtNum = (x: number | null, digits = 2) => (x === null ? 'n/a' : x.toFixed(digits));
const fmtTime = (iso: string) => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');

function fmtDuration(s: number | null): string {
  if (s === null) return 'n/a';
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

const STOP_MEANING: Record<string, string> = {
  failed_at_first_stage: 'the SLO already failed at the lowest tested concurrency: start the ramp lower',
  max_reached:
    'every tested level passed: the capacity is at least the maximum tested; raise ramp.concurrency.max to find the knee',
  error_rate_breaker: 'a stage exceeded stop.max_error_rate and was stopped early',
  rate_limited: 'most failures at the first failing concurrency were HTTP 429',
  target_unreachable: 'the target could not be reached',
  interrupted: 'the run was interrupted; the numbers cover the stages judged so far',
  limit_duration: 'the run reached limits.max_duration; the numbers cover the stages judged so far',
  limit_requests: 'the run reached limits.max_requests; the numbers cover the stages judged so far',
  limit_output_tokens: 'the run reached limits.max_output_tokens; the numbers cover the stages judged so far',
  generator_limit: 'the load generator could not hold the next level, so the capacity is a lower bound',
};

/** A stage's level: its offered rate in a rate run (req/s), else its concurrency. */
export const levelOf = (st: StageJson): number => st.offered_rate ?? st.concurrency;

/** True when the run ramped the offered rate (ramp.rate): levels are req/s, the loop was open. */
export const isRateSummary = (s: SummaryJson): boolean => Boolean(s.profile.ramp?.rate);

/**
 * The stage an SLA number is taken from: the highest judged level (concurrency or offered rate) at or below `c`,
 * preferring a PASS, then the latest.
 */
export function slaStage(stages: readonly StageJson[], c: number): StageJson | null {
  const usable = stages.filter((s) => s.verdict !== 'INVALID' && s.requests > 0 && levelOf(s) <= c);
  if (usable.length === 0) return null;
  const top = Math.max(...usable.map(levelOf));
  const at = usable.filter((s) => levelOf(s) === top);
  const passes = at.filter((s) => s.verdict === 'PASS');
  const pool = passes.length > 0 ? passes : at;
  return pool.reduce((a, b) => (b.index > a.index ? b : a));
}

export interface SlaColumn {
  title: string;
  /**
   * The level the row applies to: the capacity, or floor(headroom × capacity); in a rate run an offered rate
   * (req/s), headroom × capacity to a thousandth.
   */
  concurrency: number;
  stage: StageJson | null;
}

/** The SLA recommendation: at the capacity and at the headroom point. Empty when there is no capacity. */
export function slaColumns(s: SummaryJson): { headroom: number; columns: SlaColumn[] } {
  const headroom = s.profile.report?.headroom ?? 0.8;
  if (isRateSummary(s)) return { headroom, columns: rateSlaColumns(s, headroom) };
  const c = s.capacity.concurrency;
  if (c === null) return { headroom, columns: [] };
  const columns: SlaColumn[] = [
    { title: `At capacity (${c} concurrent)`, concurrency: c, stage: slaStage(s.stages, c) },
  ];
  const h = Math.floor(headroom * c);
  if (h >= 1 && h < c) {
    const stage = slaStage(s.stages, h);
    // Titled with the concurrency its numbers were measured at, which is below h when h was not tested.
    const measured =
      stage && stage.concurrency !== h
        ? `${stage.concurrency} concurrent, the tested level nearest below ${h}`
        : `${h} concurrent`;
    columns.push({ title: `At ${Math.round(headroom * 100)}% headroom (${measured})`, concurrency: h, stage });
  }
  return { headroom, columns };
}

/** A rate run's SLA columns: at the capacity rate and at headroom × it, in req/s. */
function rateSlaColumns(s: SummaryJson, headroom: number): SlaColumn[] {
  const c = s.capacity.rate ?? null;
  if (c === null) return [];
  const columns: SlaColumn[] = [
    { title: `At capacity (${c} req/s offered)`, concurrency: c, stage: slaStage(s.stages, c) },
  ];
  const h = Math.round(headroom * c * 1000) / 1000;
  if (h > 0 && h < c)
    columns.push({
      title: `At ${Math.round(headroom * 100)}% headroom (${h} req/s offered)`,
      concurrency: h,
      stage: slaStage(s.stages, h),
    });
  return columns;
}

/** SLA rows both kinds of run have beyond the latencies: goodput, and a rate run's offered, achieved and dropped. */
function slaRateRows(rate: boolean): [string, (st: StageJson) => string][] {
  const goodput: [string, (st: StageJson) => string][] = [
    ['Goodput (requests/s within every limit)', (st) => fmtQps(st.goodput ?? null)],
    ['Goodput ratio', (st) => esc(formatPct(st.goodput_ratio ?? null))],
  ];
  if (!rate) return goodput;
  return [
    ['Achieved rate (successful completions/s)', (st) => fmtQps(st.achieved_rate ?? st.qps)],
    ...goodput,
    ['Dropped arrivals (in-flight cap)', (st) => String(st.dropped ?? 0)],
    ['Send lag p99', (st) => esc(formatMs(st.send_lag_ms?.p99 ?? null))],
  ];
}

function verdictBadge(st: Pick<StageJson, 'verdict' | 'low_confidence'>): string {
  const low = st.low_confidence
    ? ' <span class="lowconf" title="low confidence: decided on the point estimate, too few samples for the confidence interval to decide">low&nbsp;conf.</span>'
    : '';
  return `<span class="verdict v-${esc(st.verdict.toLowerCase())}">${esc(st.verdict)}</span>${low}`;
}

function stageRef(st: StageJson): string {
  const at = st.offered_rate != null ? `an offered rate of ${st.offered_rate} req/s` : `concurrency ${st.concurrency}`;
  return `stage #${st.index} (${esc(st.kind)}, ${esc(st.verdict)}${st.low_confidence ? ', low confidence' : ''}) at ${at}`;
}

function slaSection(s: SummaryJson): string {
  const { headroom, columns } = slaColumns(s);
  const rate = isRateSummary(s);
  const intro = rate
    ? `<p>Numbers to quote in an SLA, each taken from the stage measured at the stated offered rate (or the nearest tested rate below it). The headroom point is ${Math.round(headroom * 100)}% of the capacity (<code>report.headroom</code> in the profile). Latencies are of successful requests under an open loop at that arrival rate, counted from each request's scheduled send time.</p>`
    : `<p>Numbers to quote in an SLA, each taken from the stage measured at the stated concurrency (or the nearest tested concurrency below it). The headroom point is ${Math.round(headroom * 100)}% of the capacity (<code>report.headroom</code> in the profile). Latencies are of successful requests under a closed loop of that many concurrent requests.</p>`;
  if (columns.length === 0)
    return `<section id="sla"><h2>SLA recommendation</h2>${intro}<p class="callout warn">No SLA can be recommended: no tested ${rate ? 'rate' : 'concurrency'} met the SLO.</p></section>`;
  type Row = [string, (st: StageJson, col: SlaColumn) => string];
  // Titled with what its numbers were measured at: the column's stage, below the headroom point when that was not tested.
  const appliesTo = rate ? 'Offered rate, requests/s (measured at)' : 'Concurrent requests (measured at)';
  const rows: Row[] = [
    [appliesTo, (st) => `<strong>${rate ? st.offered_rate : st.concurrency}</strong>`],
    ['Measured at', (st) => stageRef(st)],
    ['P50 TTFT', (st) => esc(formatMs(st.ttft_ms.p50))],
    ['P90 TTFT', (st) => esc(formatMs(st.ttft_ms.p90))],
    ['P99 TTFT', (st) => esc(formatMs(st.ttft_ms.p99))],
    ['P99 E2E latency', (st) => esc(formatMs(st.e2e_ms.p99))],
    ['Success rate', (st) => esc(formatPct(st.success_rate))],
    ['QPS (successful requests/s)', (st) => fmtQps(st.qps)],
    ['Output tokens/s', (st) => fmtInt(st.output_tokens_per_s)],
    ...slaRateRows(rate),
  ];
  const head = `<tr><th scope="col"></th>${columns.map((c) => `<th scope="col">${esc(c.title)}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      ([label, cell]) =>
        `<tr><th scope="row">${esc(label)}</th>${columns.map((col) => `<td>${col.stage ? cell(col.stage, col) : label === appliesTo ? `<strong>${col.concurrency}</strong>` : `not measured: no judged stage at or below this ${rate ? 'rate' : 'concurrency'}`}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const lowerBound =
    s.capacity.stop_reason === 'max_reached' || s.capacity.stop_reason === 'generator_limit'
      ? `<p class="note">No knee was found (${esc(s.capacity.stop_reason)}): the endpoint can take at least ${rate ? `${s.capacity.rate} requests/s` : `${s.capacity.concurrency} concurrent requests`}, and these numbers hold there.</p>`
      : '';
  const low = columns.some((c) => c.stage?.low_confidence)
    ? '<p class="note">Low confidence: a stage above was decided on its point estimate because it had too few samples for the confidence interval to decide. Longer stages (<code>ramp.stage.duration</code>) make the numbers firmer.</p>'
    : '';
  return `<section id="sla"><h2>SLA recommendation</h2>${intro}<table class="sla">${head}\n${body}</table>${lowerBound}${low}</section>`;
}

function kneeCards(s: SummaryJson): string {
  const c = s.capacity;
  const rate = isRateSummary(s);
  const u = rate ? ' req/s' : '';
  const bracket = c.bracket
    ? ` The knee is bracketed between ${c.bracket[0]}${u} (PASS) and ${c.bracket[1]}${u} (first confirmed FAIL).`
    : '';
  const level = rate ? (c.rate ?? null) : c.concurrency;
  const what = rate ? 'offered rate' : 'concurrency';
  const slo = `<div class="card"><h3>SLO knee (capacity): ${level === null ? 'none' : `${level}${u}`}</h3><p>The highest tested ${what} whose stage passed every SLO rule, with the next tested ${what} a confirmed FAIL.${bracket}</p></div>`;
  const e = s.efficiency_knee;
  const eLevel = rate ? (e.rate ?? null) : e.concurrency;
  const effAt = eLevel !== null ? `${eLevel}${u}` : e.best_qps === null ? 'n/a' : 'not reached';
  const eff = `<div class="card"><h3>Efficiency knee: ${effAt}</h3><p>Where more ${rate ? 'offered load' : 'concurrency'} stops buying throughput: the smallest tested ${what} reaching ${Math.round(e.fraction * 100)}% of the best QPS.</p><p class="small">${esc(e.explanation)}</p></div>`;
  return `<div class="cards">${slo}${eff}</div>`;
}

function callouts(s: SummaryJson): string {
  const c = s.capacity;
  const out: string[] = [];
  if (c.stop_reason === 'rate_limited') {
    out.push(
      `<div class="callout warn" id="rate-limited"><strong>Rate limited: the capacity found is the endpoint's rate limit, not the engine's capacity.</strong> At the first failing concurrency most failures were HTTP 429 (too many requests). The serving engine behind the endpoint may well handle more; raise the rate limit (or test the engine directly) to measure it.</div>`,
    );
  }
  if (c.stop_reason === 'generator_limit')
    out.push(
      '<div class="callout warn"><strong>The load generator was the bottleneck.</strong> A stage was INVALID because this machine could not hold the load; the capacity is a lower bound. Run with more <code>workers</code> or on a bigger machine.</div>',
    );
  if (
    s.interrupted ||
    ['interrupted', 'limit_duration', 'limit_requests', 'limit_output_tokens', 'agent_lost'].includes(c.stop_reason)
  ) {
    out.push(
      '<div class="callout warn"><strong>Provisional:</strong> the run stopped before the search finished; the capacity covers only the stages judged so far.</div>',
    );
  }
  if (c.at_capacity?.low_confidence)
    out.push(
      '<div class="callout info">The stage at capacity was decided with <strong>low confidence</strong>: too few samples for the confidence interval to decide, so its point estimate was used.</div>',
    );
  return out.join('\n');
}

function distCells(d: StageJson['ttft_ms'], which: readonly ('p50' | 'p90' | 'p99')[]): string {
  return which.map((k) => `<td class="num">${esc(formatMs(d[k]))}</td>`).join('');
}

function errorsText(st: StageJson): string {
  const entries = Object.entries(st.errors).filter(([, n]) => (n ?? 0) > 0);
  // <wbr> after underscores: long class names may break there in a narrow (printed) column.
  return entries.length === 0
    ? '–'
    : entries.map(([k, n]) => `${esc(k).replace(/_/g, '_<wbr>')}&nbsp;${n}`).join('<br>');
}

/** The TTFT overhead against the simulator's ground truth; empty without one (other targets, older runs). */
function overheadText(h: StageJson['health']): string {
  // `?? null`: a summary.json written before the check has no such fields.
  const n = h.ttft_overhead_n ?? null;
  if (n === null) return '';
  if (n === 0) return ', TTFT overhead n/a (no successful request to compare with the simulator)';
  return `, TTFT overhead p50 ${esc(formatMs(h.ttft_overhead_p50_ms ?? null))} / p99 ${esc(formatMs(h.ttft_overhead_p99_ms ?? null))} (${n} requests vs the simulator's ground truth)`;
}

/** A rate stage's open-loop facts: offered against achieved, drops, send lag and the server's own TTFT. */
function rateDetails(st: StageJson): string[] {
  return [
    `offered ${fmtQps(st.offered_rate ?? null)} req/s, achieved ${fmtQps(st.achieved_rate ?? st.qps)} req/s, goodput ${fmtQps(st.goodput ?? null)} req/s (${esc(formatPct(st.goodput_ratio ?? null))})`,
    `${st.dropped ?? 0} dropped`,
    `send lag p50 ${esc(formatMs(st.send_lag_ms?.p50 ?? null))} / p99 ${esc(formatMs(st.send_lag_ms?.p99 ?? null))}`,
    `service TTFT (from t0) p50 ${esc(formatMs(st.service_ttft_ms?.p50 ?? null))} / p99 ${esc(formatMs(st.service_ttft_ms?.p99 ?? null))}`,
  ];
}

function stageDetails(st: StageJson): string {
  const bits = [
    `window ${fmtNum(st.window_ms === null ? null : st.window_ms / 1000, 1)} s`,
    `${st.completed_in_window} completed in window (${fmtQps(st.completions_per_s)}/s)`,
    `achieved concurrency ${fmtNum(st.achieved_concurrency, 1)}`,
    `Little's law ${fmtNum(st.little_law.predicted_concurrency, 1)} (ratio ${fmtNum(st.little_law.ratio)})`,
    `TTFB p50 ${esc(formatMs(st.ttfb_ms.p50))}`,
    `${fmtInt(st.output_tokens)} output tokens${st.output_tokens_estimated ? ' (estimated from chunks)' : ''}`,
    `generator: event-loop p99 ${esc(formatMs(st.health.event_loop_delay_p99_ms))}, CPU ${fmtNum(st.health.cpu_percent, 0)}%${overheadText(st.health)}`,
  ];
  if (st.offered_rate != null) bits.unshift(...rateDetails(st));
  if (st.retry_after_s)
    bits.push(`Retry-After on ${st.retry_after_s.count} response(s), max ${st.retry_after_s.max} s`);
  bits.push(...serverStageDetail(st, esc));
  if (st.stopped_by) bits.push(`stopped by: ${esc(st.stopped_by)}`);
  for (const [cls, msgs] of Object.entries(st.error_samples ?? {})) {
    if (msgs && msgs.length > 0) bits.push(`${esc(cls)}: ${msgs.map((m) => `“${esc(m)}”`).join(', ')}`);
  }
  return bits.join(' · ');
}

function stageTable(s: SummaryJson): string {
  const h = (label: string, title = '') => `<th rowspan="2"${title ? ` title="${esc(title)}"` : ''}>${label}</th>`;
  const level = isRateSummary(s) ? h('Rate', 'offered rate, requests/s (open loop)') : h('Conc.', 'target concurrency');
  const head =
    `<thead><tr>${h('#', 'stage index, in the order the stages ran')}${level}${h('Kind')}${h('Verdict')}${h('Reqs', 'requests started in the window')}${h('Success')}${h('QPS<br><span class="sub">good&shy;put</span>', 'QPS: successful completions per second; below it, goodput: those within every goodput limit')}${h('Tok/s', 'output tokens per second')}` +
    `<th colspan="3" class="group">TTFT</th><th colspan="2" class="group">E2E</th><th class="group">TPOT</th><th class="group">ITL</th>${h('Errors')}</tr>` +
    '<tr><th>p50</th><th>p90</th><th>p99</th><th>p50</th><th>p99</th><th>p50</th><th>p99</th></tr></thead>';
  const rows = s.stages.map((st) => {
    const metrics = `<tr class="metrics v-row-${esc(st.verdict.toLowerCase())}" id="stage-${st.index}"><td class="num">${st.index}</td><td class="num"><strong>${levelOf(st)}</strong></td><td>${esc(st.kind)}</td><td>${verdictBadge(st)}</td><td class="num">${st.requests}</td><td class="num">${esc(formatPct(st.success_rate))}</td><td class="num">${fmtQps(st.qps)}<br><span class="sub">${fmtQps(st.goodput ?? null)}</span></td><td class="num">${fmtInt(st.output_tokens_per_s)}</td>${distCells(st.ttft_ms, ['p50', 'p90', 'p99'])}${distCells(st.e2e_ms, ['p50', 'p99'])}${distCells(st.tpot_ms, ['p50'])}${distCells(st.itl_ms, ['p99'])}<td class="errors">${errorsText(st)}</td></tr>`;
    const reasons =
      st.reasons.length > 0 ? `<ul class="reasons">${st.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '';
    const detail = `<tr class="detail"><td></td><td colspan="15">${reasons}<div class="small">${stageDetails(st)}</div></td></tr>`;
    return `<tbody class="stage">${metrics}${detail}</tbody>`;
  });
  const low = s.stages.some((x) => x.low_confidence)
    ? '<p class="note"><span class="lowconf">low conf.</span> = low confidence: the verdict was decided on the point estimate: too few samples for the confidence interval to decide either way.</p>'
    : '';
  return `<div class="scroll"><table class="stages">${head}${rows.join('\n')}</table></div>${low}`;
}

/** A rate run's extra distributions: the server's view from t0, and how late the generator sent. */
const NO_SAMPLES: StageJson['ttft_ms'] = { count: 0, avg: null, p50: null, p90: null, p95: null, p99: null, max: null };
// `?? NO_SAMPLES`: a summary.json written before rate stages has none of these.
const RATE_DISTRIBUTIONS: [string, (st: StageJson) => StageJson['ttft_ms']][] = [
  ['Service TTFT (from t0)', (x) => x.service_ttft_ms ?? NO_SAMPLES],
  ['Service E2E (from t0)', (x) => x.service_e2e_ms ?? NO_SAMPLES],
  ['Send lag', (x) => x.send_lag_ms ?? NO_SAMPLES],
];

function distributionTable(s: SummaryJson): string {
  const metrics: [string, (st: StageJson) => StageJson['ttft_ms']][] = [
    ['TTFT', (x) => x.ttft_ms],
    ['TTFB', (x) => x.ttfb_ms],
    ['E2E', (x) => x.e2e_ms],
    ['TPOT', (x) => x.tpot_ms],
    ['ITL', (x) => x.itl_ms],
    ...(isRateSummary(s) ? RATE_DISTRIBUTIONS : []),
  ];
  const head = `<thead><tr><th>Stage</th><th>${isRateSummary(s) ? 'Rate' : 'Conc.'}</th><th>Metric</th><th>Samples</th><th>avg</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr></thead>`;
  const body = s.stages
    .map((st) =>
      metrics
        .map(([name, get], i) => {
          const d = get(st);
          const cells = (['avg', 'p50', 'p90', 'p95', 'p99', 'max'] as const)
            .map((k) => `<td class="num">${esc(formatMs(d[k]))}</td>`)
            .join('');
          return `<tr${i === 0 ? ' class="first"' : ''}><td class="num">${i === 0 ? st.index : ''}</td><td class="num">${i === 0 ? levelOf(st) : ''}</td><td>${name}</td><td class="num">${d.count}</td>${cells}</tr>`;
        })
        .join(''),
    )
    .join('\n');
  return `<div class="scroll"><table class="dist">${head}<tbody>${body}</tbody></table></div>`;
}

const MAX_PAYLOADS_SHOWN = 3;
const MAX_CONTENT_CHARS = 400;

/** The profile as shown in the report: payloads cut to a few short examples (a prompt file can hold thousands). */
export function profileForReport(p: Profile): Record<string, unknown> {
  const payloads = p.request?.payloads ?? [];
  const cut = (t: string) =>
    t.length > MAX_CONTENT_CHARS ? `${t.slice(0, MAX_CONTENT_CHARS)}… (${t.length} characters)` : t;
  return {
    ...p,
    request: {
      ...p.request,
      payloads: payloads
        .slice(0, MAX_PAYLOADS_SHOWN)
        .map((pl) => ({ messages: pl.messages.map((m) => ({ role: m.role, content: cut(String(m.content)) })) })),
      ...(payloads.length > MAX_PAYLOADS_SHOWN ? { payloads_total: payloads.length } : {}),
    },
  };
}

function flatJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flatJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}: ${flatJson(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Pretty JSON that keeps short objects and arrays on one line, so the profile reads in half the lines. */
export function compactJson(value: unknown, indent = '', lead = 0, width = 108): string {
  const flat = flatJson(value);
  if (value === null || typeof value !== 'object' || indent.length + lead + flat.length <= width) return flat;
  const inner = indent + '  ';
  if (Array.isArray(value))
    return `[\n${value.map((v) => inner + compactJson(v, inner, 0, width)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, inner, JSON.stringify(k).length + 2, width)}`).join(',\n')}\n${indent}}`;
}

function describePlan(p: Profile): string {
  const r = p.ramp?.rate;
  if (r) {
    const law =
      p.ramp.arrival === 'gamma' ? `gamma arrivals, burstiness ${p.ramp.burstiness}` : `${p.ramp.arrival} arrivals`;
    const levels =
      r.kind === 'step'
        ? `${r.start} to ${r.max} in steps of ${r.step}`
        : r.kind === 'factor'
          ? `${r.start} to ${r.max}, × ${r.factor} per step`
          : r.levels.join(', ');
    return `${levels} requests/s; ${law}; at most ${p.ramp.maxInFlight} in flight`;
  }
  const c = p.ramp?.concurrency;
  if (!c) return 'n/a';
  if (c.kind === 'step') return `${c.start} to ${c.max} in steps of ${c.step}`;
  if (c.kind === 'factor') return `${c.start} to ${c.max}, × ${c.factor} per step`;
  return c.levels.join(', ');
}

function runDetails(s: SummaryJson): string {
  const p = s.profile;
  const sim = s.target.simulator;
  const rows: [string, string][] = [
    ['Run', esc(s.name)],
    ['Target base URL', `<code>${esc(s.target.base_url)}</code>`],
    ['Model', esc(s.target.model)],
  ];
  if (sim) {
    const overrides = Object.entries(sim.overrides).map(
      ([k, v]) => `<code>${esc(k)}</code> = ${esc(typeof v === 'string' ? v : JSON.stringify(v))}`,
    );
    rows.push([
      'Simulator',
      `built-in, preset <code>${esc(sim.preset)}</code>${overrides.length > 0 ? `; overrides: ${overrides.join('; ')}` : ''}`,
    ]);
  }
  rows.push([
    'API key',
    s.target.api_key_env
      ? `read from the environment variable <code>${esc(s.target.api_key_env)}</code>; never stored`
      : 'none',
  ]);
  const headers = Object.keys(p.target?.headers ?? {});
  if (headers.length > 0)
    rows.push(['Extra headers', `${headers.map((h) => `<code>${esc(h)}</code>`).join(', ')} (secret values redacted)`]);
  rows.push(
    ['SLO rules', s.slo.map((r) => `<code>${esc(r)}</code>`).join(', ') || 'none'],
    [p.ramp?.rate ? 'Rate plan (open loop)' : 'Concurrency plan', esc(describePlan(p))],
    [
      'Stage',
      `warm-up ${esc(formatMs(p.ramp?.warmupMs ?? null))}, window ${p.ramp?.stage.durationMs != null ? esc(formatMs(p.ramp.stage.durationMs)) : 'n/a'}${p.ramp?.stage.requests != null ? ` or ${p.ramp.stage.requests} requests` : ''}, drain up to ${esc(formatMs(p.ramp?.drainMs ?? null))}`,
    ],
    ['Started', esc(fmtTime(s.started_at))],
    ['Finished', esc(fmtTime(s.finished_at))],
    ['Duration', esc(fmtDuration(s.duration_s))],
    [
      'Totals',
      `${fmtInt(s.totals.requests)} requests judged, ${fmtInt(s.totals.ok)} successful, ${fmtInt(s.totals.output_tokens)} output tokens`,
    ],
    ['find-capacity', esc(s.tool_version)],
    ['Node.js', esc(nodeText(s.environment))],
    ['Platform', `${esc(s.environment.platform)}, ${cpusText(s.environment)}`],
  );
  const dl = `<dl class="details">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
  const profile = `<h3>Profile (redacted)</h3><p class="small">Header secrets and URL credentials are removed; the API key is never part of the profile.${(p.request?.payloads?.length ?? 0) > MAX_PAYLOADS_SHOWN ? ` Showing ${MAX_PAYLOADS_SHOWN} of ${p.request.payloads.length} request payloads.` : ''}</p><pre class="profile">${esc(compactJson(profileForReport(p)))}</pre>`;
  return `<section id="run"><h2>Run details</h2>${dl}${profile}</section>`;
}

const DEFINITIONS: [string, string][] = [
  [
    'TTFT',
    'time to first token: from just before the request is handed to the HTTP client to the first chunk with non-empty content (or reasoning content). A role-only first chunk does not count.',
  ],
  [
    'TTFO',
    'time to first output: to the first chunk with non-empty answer content (<code>content</code>, or <code>text</code> on the completions endpoint), after any reasoning. The same as TTFT for a model that does not reason.',
  ],
  ['TTFB', 'time to the response headers.'],
  [
    'E2E latency',
    'time to the end of the stream (<code>[DONE]</code>, or the last chunk when the server closes cleanly after a <code>finish_reason</code>).',
  ],
  [
    'Output tokens',
    '<code>usage.completion_tokens</code> when the server reports usage; otherwise the count of non-empty content chunks, labelled as an estimate.',
  ],
  [
    'TPOT',
    'time per output token: (last content chunk − first content chunk) / (output tokens − 1), for requests with at least 2 tokens.',
  ],
  ['ITL', 'inter-token latency: the gaps between consecutive content chunks (a chunk may carry several tokens).'],
  [
    'Success',
    'HTTP 200, a stream that ended properly, at least one content token, no error event in the stream and no timeout. Anything else is a failure with an error class.',
  ],
  [
    'Stage window',
    'requests that start inside the measurement window belong to the stage and are followed to their end; warm-up requests are recorded but not judged.',
  ],
  ['Success rate', 'successful / started in the window. Error rate per class likewise.'],
  ['QPS', 'successful requests completed inside the window / window length.'],
  ['Output tokens/s', 'output tokens of requests completed inside the window / window length.'],
  [
    'Achieved concurrency',
    "time-average of in-flight requests over the window; Little's law (completions/s × mean E2E) should agree with it in steady state.",
  ],
  [
    'P50 / P90 / P99',
    'the 50th, 90th and 99th percentile over the successful requests of a stage (all times in milliseconds, from a monotonic clock).',
  ],
  [
    'Verdicts',
    'PASS: every SLO rule holds. FAIL: a rule is broken (confirmed by a re-run). INCONCLUSIVE: too few samples to judge a percentile rule. INVALID: the load generator could not hold the load, so the stage says nothing about the server.',
  ],
  [
    'Generator health',
    `the load generator's event-loop delay p99 and CPU over each stage, and, against the built-in simulator, the TTFT overhead: the tool's TTFT minus the simulator's own TTFT (first token written − request arrived) of the same request, p50/p99 over the successful requests of the window. The stage is INVALID when the event-loop delay p99, or the TTFT overhead p99 over at least ${MIN_TTFT_OVERHEAD_SAMPLES} requests, exceeds <code>verdict.max_event_loop_delay</code> (default: the larger of 30 ms and 5% of the tightest latency SLO), or when the achieved concurrency stays below <code>verdict.min_achieved_concurrency</code> of the target.`,
  ],
];

/** What a rate run adds to the definitions: latency from the scheduled time, send lag, drops, goodput. */
const RATE_DEFINITIONS: [string, string][] = [
  [
    'Rate stage (open loop)',
    'requests are sent at times drawn before the stage starts from its offered rate, arrival law and seed, whether or not earlier requests ended: a slow server does not slow the arrivals.',
  ],
  [
    'TTFT, TTFB and E2E in a rate stage',
    'counted from the request’s scheduled send time, so the wait behind a slow server or a late generator is part of them. Service TTFT and service E2E count from <code>t0</code> (the server’s view).',
  ],
  [
    'Send lag',
    'the sent time <code>t0</code> minus the scheduled time: how late the load generator sent. A p99 above the health limit makes the stage INVALID.',
  ],
  [
    'Dropped',
    'an arrival that found <code>ramp.max_in_flight</code> requests open and was not sent: recorded as a failure of class <code>dropped</code>, so it lowers the success rate and the goodput ratio.',
  ],
  ['Offered / achieved rate', 'the stage’s arrival rate / its successful completions per second inside the window.'],
];

const GOODPUT_DEFINITION: [string, string] = [
  'Goodput',
  'requests started in the window that succeeded within every per-request limit (<code>goodput</code> in the profile, by default the latency SLO thresholds), per second of window; the goodput ratio divides them by the requests started in the window.',
];

function definitions(s: SummaryJson): string {
  const rate = isRateSummary(s);
  const defs = [...DEFINITIONS, GOODPUT_DEFINITION, ...(rate ? RATE_DEFINITIONS : [])];
  const dl = `<dl class="defs">${defs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
  if (rate) {
    const open = `<div class="callout info" id="open-loop"><strong>Open loop.</strong> Each stage offered requests at a fixed arrival rate, so a stalled server kept receiving them: the latencies include the queueing a real user sees at that rate (no coordinated omission). Dropped arrivals and the send lag say when the generator itself could not follow the schedule.</div>`;
    return `<section id="definitions"><h2>What the numbers mean</h2>${open}${dl}</section>`;
  }
  const caveat = `<div class="callout info" id="closed-loop"><strong>Closed-loop caveat (coordinated omission).</strong> Each stage keeps a fixed number of requests in flight: a new request starts only when one ends. A stalled server therefore receives fewer requests, so these latency percentiles are "at concurrency C", never "at an arrival rate of X requests/s". Slow requests are never dropped at a stage boundary: that is where the tail lives.</div>`;
  return `<section id="definitions"><h2>What the numbers mean</h2>${caveat}${dl}</section>`;
}

export const CSS = `
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --bg-soft: #f6f7f9; --pass: ${VERDICT_COLORS.PASS}; --fail: ${VERDICT_COLORS.FAIL}; --inc: ${VERDICT_COLORS.INCONCLUSIVE}; --inv: ${VERDICT_COLORS.INVALID}; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; padding: 24px 28px 48px; max-width: 1000px; color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 6px; }
p { margin: 6px 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.92em; }
code { overflow-wrap: anywhere; }
.meta { color: var(--muted); margin: 0; }
nav { margin: 10px 0 0; font-size: 13px; }
nav a { color: #2456a6; margin-right: 12px; text-decoration: none; }
.answer { margin-top: 18px; padding: 14px 18px; border-left: 6px solid var(--pass); background: var(--bg-soft); border-radius: 4px; }
.answer.none { border-left-color: var(--fail); }
.headline { font-size: 19px; font-weight: 600; margin: 0 0 6px; }
.stop { color: var(--muted); }
.cards { display: flex; gap: 14px; margin-top: 14px; }
.card { flex: 1 1 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; }
.card h3 { margin-top: 6px; }
.callout { margin: 12px 0; padding: 10px 14px; border-radius: 4px; border: 1px solid; }
.callout.warn { background: #fff6e5; border-color: #f0b44c; }
.callout.info { background: #eef4fc; border-color: #a9c4ea; }
.small, .note, figcaption { font-size: 12px; color: var(--muted); }
table { border-collapse: collapse; }
th, td { padding: 4px 7px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.sub { font-size: 10px; color: var(--muted); }
table.sla { margin: 8px 0; min-width: 60%; }
table.sla th[scope=row] { background: var(--bg-soft); white-space: nowrap; }
table.sla td { font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
table.stages { font-size: 12px; width: 100%; }
table.stages th, table.stages td { padding: 3px 5px; }
table.dist { font-size: 12px; }
table.dist td, table.dist th { padding-left: 12px; }
table.stages thead th, table.dist thead th { background: var(--bg-soft); white-space: nowrap; }
table.stages thead th.group { text-align: center; border-bottom: 1px solid var(--line); }
table.stages tbody.stage { border-top: 2px solid var(--line); }
table.stages tr.metrics td { border-bottom: none; }
table.stages tr.detail td { padding-top: 0; }
table.stages td.errors { font-size: 11px; white-space: nowrap; }
table.dist tr.first td { border-top: 2px solid var(--line); }
ul.reasons { margin: 0 0 2px; padding-left: 16px; }
ul.reasons li { overflow-wrap: anywhere; }
.verdict { display: inline-block; padding: 0 5px; border-radius: 3px; color: #fff; font-size: 11px; font-weight: 700; letter-spacing: 0.02em; }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); } .v-inconclusive { background: var(--inc); color: #222; } .v-invalid { background: var(--inv); }
.lowconf { display: inline-block; font-size: 10px; color: #8a5a00; border: 1px solid #e2c275; border-radius: 3px; padding: 0 3px; white-space: nowrap; }
figure.chart { margin: 18px 0 26px; }
figure.chart h3 { margin-bottom: 4px; }
.svg svg { display: block; max-width: 100%; height: auto; }
/* On screen a chart takes the page's width (its viewBox scales it); printed, it keeps its own size. */
@media screen { .svg svg { width: 100%; } }
dl.details, dl.defs { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 8px 0; }
dl.details dt, dl.defs dt { font-weight: 600; }
dl.details dd, dl.defs dd { margin: 0; overflow-wrap: anywhere; }
pre.profile { background: var(--bg-soft); border: 1px solid var(--line); border-radius: 4px; padding: 10px; font-size: 11px; line-height: 1.35; white-space: pre-wrap; overflow-wrap: anywhere; }
footer { margin-top: 36px; font-size: 12px; color: var(--muted); }
@page { margin: 12mm 11mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  h2 { break-after: avoid; margin-top: 20px; }
  h3 { break-after: avoid; }
  .answer, .cards, .card, .callout, figure.chart, table.sla, dl.details, tbody.stage, table.dist tr { break-inside: avoid; }
  .scroll { overflow: visible; }
  table.stages, table.dist { font-size: 7.5pt; }
  th, td { padding: 2px 4px; }
  table.stages th, table.stages td { padding: 2px 3px; }
  table.stages thead th { white-space: normal; }
  table.stages td.errors { white-space: normal; font-size: 7pt; }
  table.stages .small { font-size: 7pt; }
  thead { display: table-header-group; }
  pre.profile { font-size: 7.5pt; }
  .verdict, .v-pass, .v-fail, .v-inconclusive, .v-invalid, .answer, .callout, table.sla th[scope=row] { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
@media (max-width: 700px) { .cards { flex-direction: column; } body { padding: 12px; } }
`;

export function renderReportHtml(summary: SummaryJson): string {
  const s = summary;
  const server = s.stages.length > 0 ? serverMetricsChart(s) : null;
  const charts = s.stages.length > 0 ? [...reportCharts(s), ...(server ? [server] : [])] : [];
  const answer = headline(s);
  const cap = s.capacity.rate ?? s.capacity.concurrency;
  const title = `Capacity report: ${s.name} (${s.target.model})`;
  const stopMeaning = STOP_MEANING[s.capacity.stop_reason] ?? '';
  const specs = charts.map((c): { id: string; spec: TopLevelSpec } => ({ id: c.id, spec: c.spec }));
  const embedded = { ...s, profile: profileForReport(s.profile) };
  return `${pageHead(title, s.tool_version, CSS + TIERS_CSS)}
<body>
<header>
<h1>${esc(title)}</h1>
<p class="meta">${esc(s.target.base_url)} · ${esc(fmtTime(s.started_at))} · ${esc(fmtDuration(s.duration_s))} · find-capacity ${esc(s.tool_version)}</p>
<nav><a href="#answer">Answer</a><a href="#sla">SLA</a><a href="#sla-tiers">SLA tiers</a><a href="#charts">Charts</a><a href="#stages">Stages</a><a href="#run">Run details</a><a href="#definitions">Definitions</a></nav>
</header>
<main>
<section id="answer" class="answer${cap === null ? ' none' : ''}">
<p class="headline" id="headline" data-capacity="${cap === null ? 'none' : cap}">${esc(answer)}</p>
<p class="stop" id="stop-reason">Stopped: <code>${esc(s.capacity.stop_reason)}</code> — ${esc(s.capacity.stop_detail)}${stopMeaning ? ` <span class="small">(${esc(stopMeaning)})</span>` : ''}</p>
<p class="small">SLO: ${s.slo.map((r) => `<code>${esc(r)}</code>`).join(', ') || 'none'}</p>
</section>
${callouts(s)}
${kneeCards(s)}
${kneeExplanationHtml(s, esc)}
${slaSection(s)}
${slaTiersSection(s)}
<section id="charts"><h2>Charts</h2>
<p class="small">x = the ${isRateSummary(s) ? 'offered rate of each stage (requests/s)' : 'concurrency of each stage'}. Every stage is a point, confirmation re-runs and bisection probes included; its colour and shape show its verdict (<span class="verdict v-pass">PASS</span> circle, <span class="verdict v-fail">FAIL</span> cross, <span class="verdict v-inconclusive">INCONCLUSIVE</span> diamond, <span class="verdict v-invalid">INVALID</span> square). Lines join the mean of the judged stages at each concurrency. Hover a point for its exact numbers.</p>
${charts.length > 0 ? charts.map(chartFigure).join('\n') : '<p class="callout warn">No stage was measured, so there is nothing to chart.</p>'}
</section>
<section id="stages"><h2>Stages</h2>
<p class="small">Every stage in the order it ran, with the reasons behind its verdict. Times are of successful requests.</p>
${stageTable(s)}
<h3>Latency distributions per stage</h3>
${distributionTable(s)}
${trafficSection(s)}
</section>
${runDetails(s)}
${definitions(s)}
</main>
<footer>Generated by find-capacity ${esc(s.tool_version)} from summary.json. This file makes no network requests. It embeds the run's summary (<code>script#fc-summary</code>) and the charts' Vega-Lite specs (<code>script#fc-vega-lite-specs</code>) as JSON, for tools and for exploring a chart in the Vega editor.</footer>
<script type="application/json" id="fc-summary">${scriptJson(embedded)}</script>
<script type="application/json" id="fc-vega-lite-specs">${scriptJson(specs)}</script>
</body>
</html>
`;
}
