// Pure: the report's Vega-Lite specs, built from summary.json alone (docs/design-notes.md, "Report charts").
import type { TopLevelSpec } from 'vega-lite';
import { ERROR_CLASSES } from '../model/record.ts';
import type { SloRule } from '../slo/types.ts';
import { formatPct } from '../slo/evaluate.ts';
import type { StageJson, SummaryJson } from './summary.ts';
import { textWidth } from './text-width.ts';

export type Verdict = StageJson['verdict'];

export const VERDICTS: readonly Verdict[] = ['PASS', 'FAIL', 'INCONCLUSIVE', 'INVALID'];
export const VERDICT_COLORS: Readonly<Record<Verdict, string>> = {
  PASS: '#2e9e48',
  FAIL: '#d62728',
  INCONCLUSIVE: '#f0a202',
  INVALID: '#8c8c8c',
};
const VERDICT_SHAPES: Readonly<Record<Verdict, string>> = {
  PASS: 'circle',
  FAIL: 'cross',
  INCONCLUSIVE: 'diamond',
  INVALID: 'square',
};

export const WIDTH = 540;
const HEIGHT = 190;
const HALF_WIDTH = 250;
const FONT = 'Helvetica, Arial, sans-serif';
const CAPACITY_COLOR = '#1b7f3b';
const KNEE_COLOR = '#c62828';
const EFFICIENCY_COLOR = '#5b5b9a';
const SLO_COLOR = '#b23b3b';
// One fixed colour per error class (same class, same colour in every report), none of them the verdicts' green or red.
const ERROR_PALETTE = [
  '#4c78a8',
  '#f58518',
  '#b279a2',
  '#72b7b2',
  '#9d755d',
  '#eeca3b',
  '#79706e',
  '#ff9da6',
  '#17becf',
  '#bcbd22',
  '#393b79',
  '#8c6d31',
  '#e377c2',
  '#aec7e8',
  '#7f7f7f',
];

export function errorClassColor(cls: string): string {
  const i = (ERROR_CLASSES as readonly string[]).indexOf(cls);
  return ERROR_PALETTE[(i >= 0 ? i : ERROR_CLASSES.length) % ERROR_PALETTE.length]!;
}

export interface ReportChart {
  /** Stable id: the HTML anchor and the golden file name. */
  id: 'rate' | 'throughput' | 'ttft' | 'latency' | 'errors' | 'server-metrics';
  title: string;
  /** One or two sentences under the chart: how to read it. */
  caption: string;
  spec: TopLevelSpec;
}

/** One stage's value of one metric series, at its level: `concurrency`, or `offered_rate` in a rate run. */
export interface SeriesPoint {
  stage: number;
  concurrency?: number;
  offered_rate?: number;
  kind: StageJson['kind'];
  verdict: Verdict;
  verdict_label: string;
  series: string;
  value: number;
  tip: string;
}

interface Marker {
  /** Where the rule stands on the x axis: a concurrency, or an offered rate (req/s) in a rate run. */
  concurrency: number;
  label: string;
  color: string;
  dash: number[];
  /** Side of the rule the label prefers: the capacity reads to the left, the knee (higher) to the right. */
  side: 'left' | 'right';
  /** Label row above the plot (0 = the lowest concurrency, drawn highest): nearby markers' labels never overlap. */
  row: number;
}

interface Threshold {
  value: number;
  label: string;
}

type Layer = Record<string, unknown>;

const VERDICT_LABEL = (s: StageJson) => (s.low_confidence ? `${s.verdict} (low confidence)` : s.verdict);
/** A stage's offered rate; null in a concurrency stage (or a summary written before rate stages). */
const offeredRate = (s: StageJson): number | null => s.offered_rate ?? null;
const stageLevelText = (s: StageJson) =>
  offeredRate(s) === null ? `concurrency ${s.concurrency}` : `offered rate ${offeredRate(s)} req/s`;
const stageTitle = (s: StageJson) => `Stage ${s.index} (${s.kind}) · ${stageLevelText(s)} · ${VERDICT_LABEL(s)}`;

/** The x axis: concurrency, or the offered rate in a rate run (the profile ramps ramp.rate). */
export interface XAxis {
  rate: boolean;
  field: 'concurrency' | 'offered_rate';
  /** A stage's x value. */
  of(st: StageJson): number;
  /** The data field of a level, for a row of chart data. */
  row(level: number): { concurrency: number } | { offered_rate: number };
  /** e.g. "versus concurrency" in chart titles. */
  versus: string;
  /** A level in a sentence or label: "8" or "8 req/s". */
  label(level: number): string;
}

export function xAxisOf(s: SummaryJson): XAxis {
  const rate = Boolean(s.profile.ramp.rate);
  return rate
    ? {
        rate,
        field: 'offered_rate',
        of: (st) => offeredRate(st) ?? 0,
        row: (level) => ({ offered_rate: level }),
        versus: 'versus offered rate',
        label: (level) => `${level} req/s`,
      }
    : {
        rate,
        field: 'concurrency',
        of: (st) => st.concurrency,
        row: (level) => ({ concurrency: level }),
        versus: 'versus concurrency',
        label: (level) => String(level),
      };
}
const num = (x: number, digits = 3) => String(Math.round(x * 10 ** digits) / 10 ** digits);
const exactMs = (x: number) => `${num(x)} ms`;

const verdictFill = {
  field: 'verdict',
  type: 'nominal',
  title: 'Verdict',
  scale: { domain: VERDICTS, range: VERDICTS.map((v) => VERDICT_COLORS[v]) },
};
const verdictShape = {
  field: 'verdict',
  type: 'nominal',
  title: 'Verdict',
  scale: { domain: VERDICTS, range: VERDICTS.map((v) => VERDICT_SHAPES[v]) },
};
const levelTooltip = (x: XAxis) =>
  x.rate
    ? { field: 'offered_rate', type: 'quantitative', title: 'offered rate (req/s)' }
    : { field: 'concurrency', type: 'quantitative', title: 'concurrency' };
const stageTooltip = (s: SummaryJson) => [
  { field: 'stage', type: 'quantitative', title: 'stage' },
  { field: 'kind', type: 'nominal', title: 'kind' },
  levelTooltip(xAxisOf(s)),
  { field: 'verdict_label', type: 'nominal', title: 'verdict' },
];

/** Tested levels (concurrencies or offered rates), padded so edge points are not cut in half. */
export function concurrencyDomain(s: SummaryJson): [number, number] {
  const cs = s.stages.map(xAxisOf(s).of);
  if (cs.length === 0) return [0, 1];
  const lo = Math.min(...cs);
  const hi = Math.max(...cs);
  const pad = Math.max(0.5, (hi - lo) * 0.04);
  return [Math.max(0, lo - pad), hi + pad];
}

function xEncoding(s: SummaryJson) {
  const x = xAxisOf(s);
  return {
    field: x.field,
    type: 'quantitative',
    title: x.rate ? 'Offered rate (requests/s, open loop)' : 'Concurrency (requests in flight)',
    scale: { domain: concurrencyDomain(s), nice: false, zero: false },
    axis: x.rate ? { format: '~g' } : { tickMinStep: 1, format: 'd' },
  };
}

/** Capacity, the knee (first FAIL of the bracket) and optionally the efficiency knee, merged where they coincide. */
export function markers(s: SummaryJson, withEfficiency: boolean): Marker[] {
  const raw: Omit<Marker, 'row'>[] = [];
  const x = xAxisOf(s);
  const capacity = s.capacity.rate ?? s.capacity.concurrency;
  if (capacity !== null)
    raw.push({
      concurrency: capacity,
      label: `capacity ${x.label(capacity)}`,
      color: CAPACITY_COLOR,
      dash: [],
      side: 'left',
    });
  const knee = s.capacity.bracket?.[1];
  if (knee !== undefined)
    raw.push({
      concurrency: knee,
      label: `first FAIL ${x.label(knee)}`,
      color: KNEE_COLOR,
      dash: [6, 3],
      side: 'right',
    });
  const eff = s.efficiency_knee.rate ?? s.efficiency_knee.concurrency;
  if (withEfficiency && eff !== null)
    raw.push({
      concurrency: eff,
      label: `efficiency knee ${x.label(eff)}`,
      color: EFFICIENCY_COLOR,
      dash: [2, 3],
      side: 'left',
    });
  const merged: Omit<Marker, 'row'>[] = [];
  for (const m of raw) {
    const same = merged.find((x) => x.concurrency === m.concurrency);
    if (same) same.label = `${same.label} · ${m.label.replace(/ [\d.]+( req\/s)?$/, '')}`;
    else merged.push({ ...m });
  }
  return merged.sort((a, b) => a.concurrency - b.concurrency).map((m, i) => ({ ...m, row: i }));
}

/** A label drawn twice, a white outline under the text, so it stays legible across grid lines and marks. */
function haloText(data: unknown, mark: Record<string, unknown>, encoding: Record<string, unknown>): Layer[] {
  return [
    {
      data,
      mark: { ...mark, color: 'white', stroke: 'white', strokeWidth: 3, strokeJoin: 'round', aria: false },
      encoding,
    },
    { data, mark: { ...mark, aria: false }, encoding },
  ];
}

/** Vertical marker rules, labelled above the plot (off the data), on the side that keeps the label inside the plot. */
function markerLayers(s: SummaryJson, list: readonly Marker[], width: number): Layer[] {
  const [lo, hi] = concurrencyDomain(s);
  const x = xAxisOf(s);
  const layers: Layer[] = [];
  for (const m of list) {
    const data = { values: [{ ...x.row(m.concurrency), label: m.label }] };
    const labelY = -3 - (list.length - 1 - m.row) * 12;
    layers.push({
      data,
      mark: { type: 'rule', color: m.color, strokeWidth: 1.5, strokeDash: m.dash, aria: false },
      encoding: {
        x: { field: x.field, type: 'quantitative' },
        y: { value: labelY - 9 },
        y2: { value: 'height' },
      },
    });
    const px = ((m.concurrency - lo) / (hi - lo)) * width;
    const labelPx = textWidth({ fontSize: 10, fontWeight: 'bold' }, m.label) + 6;
    // `right` = right-aligned text, i.e. the label sits on the left of the rule.
    let right = m.side === 'left';
    if (right && px - labelPx < 0) right = false;
    else if (!right && px + labelPx > width) right = true;
    layers.push(
      ...haloText(
        data,
        {
          type: 'text',
          color: m.color,
          fontSize: 10,
          fontWeight: 'bold',
          align: right ? 'right' : 'left',
          dx: right ? -3 : 3,
          baseline: 'bottom',
        },
        { x: { field: x.field, type: 'quantitative' }, y: { value: labelY }, text: { field: 'label' } },
      ),
    );
  }
  return layers;
}

function thresholdLayers(list: readonly Threshold[]): Layer[] {
  if (list.length === 0) return [];
  const data = { values: list.map((t) => ({ value: t.value, label: t.label })) };
  return [
    {
      data,
      mark: { type: 'rule', color: SLO_COLOR, strokeWidth: 1.5, strokeDash: [4, 4], aria: false },
      encoding: { y: { field: 'value', type: 'quantitative' } },
    },
    ...haloText(
      data,
      { type: 'text', color: SLO_COLOR, fontSize: 10, align: 'left', baseline: 'bottom', dx: 4, dy: -2 },
      { x: { value: 0 }, y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } },
    ),
  ];
}

/** Latency SLO rules on one metric, as horizontal thresholds in ms. */
export function latencyThresholds(s: SummaryJson, metric: string): Threshold[] {
  const rules = s.profile.slo as readonly SloRule[];
  return rules.flatMap((r) =>
    r.kind === 'latency' && r.metric === metric ? [{ value: r.thresholdMs, label: `SLO ${r.text}` }] : [],
  );
}

/** Long-format rows: one per stage and series with a measured value. */
export function seriesPoints(
  s: SummaryJson,
  series: readonly { name: string; get: (x: StageJson) => number | null; fmt: (v: number) => string }[],
): SeriesPoint[] {
  const rows: SeriesPoint[] = [];
  const x = xAxisOf(s);
  for (const st of s.stages) {
    for (const ser of series) {
      const v = ser.get(st);
      if (v === null || !Number.isFinite(v)) continue;
      rows.push({
        stage: st.index,
        ...x.row(x.of(st)),
        kind: st.kind,
        verdict: st.verdict,
        verdict_label: VERDICT_LABEL(st),
        series: ser.name,
        value: v,
        tip: `${stageTitle(st)}\n${ser.name}: ${ser.fmt(v)}`,
      });
    }
  }
  return rows;
}

export interface SeriesPanel {
  s: SummaryJson;
  series: readonly { name: string; color: string; get: (x: StageJson) => number | null; fmt: (v: number) => string }[];
  yTitle: string;
  log: boolean;
  thresholds: readonly Threshold[];
  markers: readonly Marker[];
  width: number;
  /** Legend title for the series colours; null when a panel has one series (its y title names it). */
  seriesLegend: string | null;
  /** A fixed y range and axis format (a share in [0, 1] as percent); default: from zero to the data. */
  yFixed?: { domain: [number, number]; format: string };
}

/** One panel: a line per series (mean of the judged stages at each concurrency) plus a point per stage. */
export function seriesPanel(p: SeriesPanel): Layer {
  const points = seriesPoints(p.s, p.series);
  const names = p.series.map((x) => x.name);
  const scale = p.log ? { type: 'log' } : p.yFixed ? { domain: p.yFixed.domain } : { zero: true };
  const axis = p.yFixed ? { axis: { format: p.yFixed.format } } : {};
  const y = { field: 'value', type: 'quantitative', title: p.yTitle, scale, ...axis };
  const stroke = {
    field: 'series',
    type: 'nominal',
    title: p.seriesLegend ?? 'Series',
    scale: { domain: names, range: p.series.map((x) => x.color) },
    legend: p.seriesLegend === null ? null : { symbolType: 'stroke' },
  };
  return {
    width: p.width,
    height: HEIGHT,
    layer: [
      ...markerLayers(p.s, p.markers, p.width),
      ...thresholdLayers(p.thresholds),
      {
        data: { values: points },
        layer: [
          {
            transform: [{ filter: { field: 'verdict', oneOf: ['PASS', 'FAIL', 'INCONCLUSIVE'] } }],
            mark: { type: 'line', strokeWidth: 1.5, aria: false },
            encoding: { x: xEncoding(p.s), y: { ...y, aggregate: 'mean' }, stroke },
          },
          {
            mark: { type: 'point', filled: true, size: 55, opacity: 1, strokeWidth: 1.2 },
            encoding: {
              x: xEncoding(p.s),
              y,
              fill: verdictFill,
              shape: verdictShape,
              stroke,
              description: { field: 'tip' },
              tooltip: [
                ...stageTooltip(p.s),
                { field: 'series', type: 'nominal', title: 'metric' },
                { field: 'value', type: 'quantitative', title: 'value', format: '.3~f' },
              ],
            },
          },
        ],
      },
    ],
  };
}

export function top(spec: Layer): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 6,
    config: {
      font: FONT,
      axis: { labelFontSize: 10, titleFontSize: 11, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
      legend: {
        orient: 'bottom',
        direction: 'horizontal',
        labelFontSize: 10,
        titleFontSize: 10,
        symbolSize: 60,
        columnPadding: 12,
      },
      view: { stroke: '#cccccc' },
      concat: { spacing: 18 },
    },
    ...spec,
  } as TopLevelSpec;
}

export function throughputChart(s: SummaryJson): ReportChart {
  const m = markers(s, true);
  const panel = (name: string, color: string, get: (x: StageJson) => number | null, unit: string) =>
    seriesPanel({
      s,
      series: [{ name, color, get, fmt: (v) => `${num(v)} ${unit}` }],
      yTitle: name,
      log: false,
      thresholds: [],
      markers: m,
      width: WIDTH,
      seriesLegend: null,
    });
  return {
    id: 'throughput',
    title: `Throughput ${xAxisOf(s).versus}`,
    caption: `QPS counts successful requests completed inside each measurement window; output tokens/s counts the output tokens of requests completed inside it. Where the curve flattens, more ${xAxisOf(s).rate ? 'offered load' : 'concurrency'} only adds queueing.`,
    spec: top({
      resolve: { scale: { stroke: 'independent' } },
      vconcat: [
        panel('QPS (successful completions/s)', '#4c78a8', (x) => x.qps, 'req/s'),
        panel('Output tokens/s', '#9c6ade', (x) => x.output_tokens_per_s, 'tok/s'),
      ],
    }),
  };
}

type Stat = 'avg' | 'p50' | 'p90' | 'p95' | 'p99' | 'max';
const STATS: readonly Stat[] = ['avg', 'p50', 'p90', 'p95', 'p99', 'max'];
const STAT_LABEL: Record<Stat, string> = { avg: 'Mean', p50: 'P50', p90: 'P90', p95: 'P95', p99: 'P99', max: 'Max' };
// Series an SLO rule asks for beyond the chart's usual percentiles, drawn in the SLO's red family.
const SLO_SERIES_COLORS = ['#e45756', '#ff9da6', '#9e2a2b'];

/**
 * The usual percentiles of one latency metric plus every statistic its SLO rules use, so each threshold
 * has a line to be read against (a `p95(ttft) < 1s` rule gets a P95 line).
 */
export function latencySeries(
  s: SummaryJson,
  metric: 'ttft' | 'e2e' | 'tpot',
  label: string,
  usual: readonly (readonly [Stat, string])[],
) {
  const rules = s.profile.slo as readonly SloRule[];
  const wanted = new Set<Stat>(rules.flatMap((r) => (r.kind === 'latency' && r.metric === metric ? [r.stat] : [])));
  const colors = new Map<Stat, string>(usual);
  let extra = 0;
  for (const stat of STATS)
    if (wanted.has(stat) && !colors.has(stat)) colors.set(stat, SLO_SERIES_COLORS[extra++ % SLO_SERIES_COLORS.length]!);
  const key = `${metric}_ms` as const;
  return STATS.filter((stat) => colors.has(stat)).map((stat) => ({
    name: `${STAT_LABEL[stat]} ${label}${usual.some(([u]) => u === stat) ? '' : ' (SLO)'}`,
    color: colors.get(stat)!,
    get: (x: StageJson) => x[key][stat],
    fmt: exactMs,
  }));
}

export function ttftChart(s: SummaryJson): ReportChart {
  return {
    id: 'ttft',
    title: `Time to first token (TTFT) ${xAxisOf(s).versus}`,
    caption: `P50, P90 and P99 TTFT of the successful requests of each stage (log scale${xAxisOf(s).rate ? ', from each request’s scheduled send time' : ''}), plus any other statistic a TTFT SLO rule uses. Dashed red lines are the TTFT SLO thresholds; the green line is the capacity, the red dashed line the first confirmed FAIL.`,
    spec: top(
      seriesPanel({
        s,
        series: latencySeries(s, 'ttft', 'TTFT', [
          ['p50', '#9ecae9'],
          ['p90', '#4c78a8'],
          ['p99', '#1d3557'],
        ]),
        yTitle: 'TTFT (ms, log scale)',
        log: true,
        thresholds: latencyThresholds(s, 'ttft'),
        markers: markers(s, false),
        width: WIDTH,
        seriesLegend: 'Statistic',
      }),
    ),
  };
}

export function latencyChart(s: SummaryJson): ReportChart {
  const m = markers(s, false);
  return {
    id: 'latency',
    title: 'End-to-end latency and time per output token',
    caption:
      'Left: P50 and P99 end-to-end latency (log scale). Right: P50 and P99 TPOT, the decode time per output token after the first. Statistics used by SLO rules on these metrics are added, and their thresholds drawn as dashed red lines.',
    spec: top({
      hconcat: [
        seriesPanel({
          s,
          series: latencySeries(s, 'e2e', 'E2E', [
            ['p50', '#88d1a9'],
            ['p99', '#1f6f4a'],
          ]),
          yTitle: 'E2E latency (ms, log scale)',
          log: true,
          thresholds: latencyThresholds(s, 'e2e'),
          markers: m,
          width: HALF_WIDTH,
          seriesLegend: 'E2E',
        }),
        seriesPanel({
          s,
          series: latencySeries(s, 'tpot', 'TPOT', [
            ['p50', '#f4a582'],
            ['p99', '#a63603'],
          ]),
          yTitle: 'TPOT (ms per token)',
          log: false,
          thresholds: latencyThresholds(s, 'tpot'),
          markers: m,
          width: HALF_WIDTH,
          seriesLegend: 'TPOT',
        }),
      ],
      resolve: { scale: { stroke: 'independent' }, legend: { stroke: 'independent' } },
    }),
  };
}

/** Error rate per class at each tested level (concurrency or offered rate), pooled over the stages run there. */
export function errorBars(s: SummaryJson) {
  const x = xAxisOf(s);
  const byC = new Map<number, { requests: number; errors: Map<string, number> }>();
  for (const st of s.stages) {
    const e = byC.get(x.of(st)) ?? { requests: 0, errors: new Map<string, number>() };
    e.requests += st.requests;
    for (const [cls, n] of Object.entries(st.errors)) e.errors.set(cls, (e.errors.get(cls) ?? 0) + (n ?? 0));
    byC.set(x.of(st), e);
  }
  const rows: {
    concurrency?: number;
    offered_rate?: number;
    error_class: string;
    count: number;
    requests: number;
    rate: number;
    tip: string;
  }[] = [];
  for (const [c, e] of [...byC.entries()].sort((a, b) => a[0] - b[0])) {
    if (e.requests === 0) continue;
    for (const [cls, n] of [...e.errors.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (n <= 0) continue;
      const rate = n / e.requests;
      const at = x.rate ? `Offered rate ${x.label(c)}` : `Concurrency ${c}`;
      rows.push({
        ...x.row(c),
        error_class: cls,
        count: n,
        requests: e.requests,
        rate,
        tip: `${at} (all stages): ${cls} ${n} of ${e.requests} requests = ${formatPct(rate)}`,
      });
    }
  }
  return rows;
}

/** Rate SLO rules as error-rate thresholds (success_rate >= x becomes error rate <= 1 - x). */
export function errorThresholds(s: SummaryJson): Threshold[] {
  const rules = s.profile.slo as readonly SloRule[];
  return rules.flatMap((r) => {
    if (r.kind !== 'rate') return [];
    // Rounded so 1 - 0.8 reads 0.2, not 0.19999999999999996.
    const ceiling = Math.round((1 - r.threshold) * 1e9) / 1e9;
    if (r.metric === 'success_rate')
      return [{ value: ceiling, label: `SLO ${r.text} (errors ≤ ${formatPct(ceiling)})` }];
    return [{ value: r.threshold, label: `SLO ${r.text}` }];
  });
}

/** Each judged stage's total error rate, with its tooltip. */
function errorRatePoints(s: SummaryJson) {
  const x = xAxisOf(s);
  return s.stages
    .filter((st) => st.error_rate !== null)
    .map((st) => ({
      stage: st.index,
      ...x.row(x.of(st)),
      kind: st.kind,
      verdict: st.verdict,
      verdict_label: VERDICT_LABEL(st),
      error_rate: st.error_rate!,
      tip:
        `${stageTitle(st)}\nerror rate ${formatPct(st.error_rate)} (${st.failed} of ${st.requests})` +
        (Object.keys(st.errors).length > 0
          ? `: ${Object.entries(st.errors)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : ''),
    }));
}

/** Stacked bars of error rate per class; no layer when no request failed. */
function errorBarLayers(s: SummaryJson, bars: ReturnType<typeof errorBars>, y: Layer): Layer[] {
  if (bars.length === 0) return [];
  const classes = [...new Set(bars.map((b) => b.error_class))].sort();
  return [
    {
      data: { values: bars },
      mark: { type: 'bar', width: 9 },
      encoding: {
        x: xEncoding(s),
        y: { ...y, field: 'rate', stack: 'zero' },
        // Beside the plot: a run can see a dozen error classes, too many to share the bottom row with the verdicts.
        color: {
          field: 'error_class',
          type: 'nominal',
          title: 'Error class',
          scale: { domain: classes, range: classes.map(errorClassColor) },
          legend: { orient: 'right', direction: 'vertical' },
        },
        description: { field: 'tip' },
        tooltip: [
          levelTooltip(xAxisOf(s)),
          { field: 'error_class', type: 'nominal', title: 'error class' },
          { field: 'count', type: 'quantitative', title: 'errors' },
          { field: 'requests', type: 'quantitative', title: 'requests' },
          { field: 'rate', type: 'quantitative', title: 'rate', format: '.2%' },
        ],
      },
    },
  ];
}

export function errorChart(s: SummaryJson): ReportChart {
  const bars = errorBars(s);
  const thresholds = errorThresholds(s);
  const points = errorRatePoints(s);
  const stacked = new Map<number, number>();
  for (const b of bars) {
    const level = b.offered_rate ?? b.concurrency ?? 0;
    stacked.set(level, (stacked.get(level) ?? 0) + b.rate);
  }
  const yMax = Math.min(
    1,
    Math.max(0.01, ...stacked.values(), ...points.map((p) => p.error_rate), ...thresholds.map((t) => t.value)) * 1.15,
  );
  const y = {
    type: 'quantitative',
    title: 'Error rate (share of requests)',
    scale: { domain: [0, yMax], nice: false },
    axis: { format: '.1~%' },
  };
  const m = markers(s, false);
  return {
    id: 'errors',
    title: `Errors ${xAxisOf(s).versus}`,
    caption: `Bars: error rate at each ${xAxisOf(s).rate ? 'offered rate' : 'concurrency'} by error class (all stages at that ${xAxisOf(s).rate ? 'rate' : 'concurrency'} pooled${xAxisOf(s).rate ? '; dropped arrivals are a class of their own' : ''}). Points: each stage’s total error rate, coloured by its verdict. Dashed red: the success-rate SLO as an error-rate ceiling.`,
    spec: top({
      width: WIDTH,
      height: HEIGHT,
      layer: [
        ...markerLayers(s, m, WIDTH),
        ...thresholdLayers(thresholds),
        ...errorBarLayers(s, bars, y),
        {
          data: { values: points },
          mark: { type: 'point', filled: true, size: 55, opacity: 1, stroke: '#333333', strokeWidth: 1 },
          encoding: {
            x: xEncoding(s),
            y: { ...y, field: 'error_rate' },
            fill: verdictFill,
            shape: verdictShape,
            description: { field: 'tip' },
            tooltip: [
              ...stageTooltip(s),
              { field: 'error_rate', type: 'quantitative', title: 'error rate', format: '.2%' },
            ],
          },
        },
      ],
    }),
  };
}

/** All report charts, in reading order; a rate run opens with offered versus achieved rate. */
export function reportCharts(s: SummaryJson): ReportChart[] {
  const rate = xAxisOf(s).rate ? [rateChart(s)] : [];
  return [...rate, throughputChart(s), ttftChart(s), latencyChart(s), errorChart(s)];
}

/**
 * A rate run's first chart: the throughput achieved and the goodput at each offered rate, against the diagonal
 * where achieved equals offered. Below the service rate the points sit on it; past it they flatten.
 */
export function rateChart(s: SummaryJson): ReportChart {
  const diagonal = s.stages.map((st) => offeredRate(st) ?? 0);
  const [lo, hi] = concurrencyDomain(s);
  const line = { values: [lo, hi].map((v) => ({ offered_rate: v, value: v })) };
  const panel = seriesPanel({
    s,
    series: [
      {
        name: 'Achieved (successful completions/s)',
        color: '#4c78a8',
        get: (x) => x.achieved_rate ?? x.qps,
        fmt: (v) => `${num(v)} req/s`,
      },
      {
        name: 'Goodput (within every limit)',
        color: '#2e9e48',
        get: (x) => x.goodput ?? null,
        fmt: (v) => `${num(v)} req/s`,
      },
    ],
    yTitle: 'Requests/s',
    log: false,
    thresholds: [],
    markers: markers(s, false),
    width: WIDTH,
    seriesLegend: 'Rate',
  });
  const ref = {
    data: line,
    mark: { type: 'line', color: '#999999', strokeDash: [3, 3], strokeWidth: 1, aria: false },
    encoding: { x: { field: 'offered_rate', type: 'quantitative' }, y: { field: 'value', type: 'quantitative' } },
  };
  return {
    id: 'rate',
    title: 'Offered versus achieved rate',
    caption: `Each stage offers requests at a fixed rate (open loop, ${diagonal.length} stages). Blue: successful completions per second inside the window; green: goodput, the requests per second that met every per-request limit. The grey diagonal is achieved = offered: points fall below it once the offered rate exceeds what the server completes.`,
    spec: top({ ...panel, layer: [ref, ...(panel['layer'] as Layer[])] }),
  };
}
