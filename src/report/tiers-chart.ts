// Pure: the SLA tiers chart (capacity against each latency rule's threshold), a Vega-Lite spec from summary.json.
import { top } from './charts.ts';
import type { FigureChart } from './html-parts.ts';
import type { SloFrontierJson } from './review-json.ts';

type TierJson = SloFrontierJson['rules'][number]['tiers'][number];

const RANGE_SHAPE = { within: 'circle', above: 'triangle-up', below: 'triangle-down' } as const;
const RANGE_LABEL = {
  within: 'within the tested range',
  above: 'at least (above the tested range)',
  below: 'below the tested range',
} as const;
const RULE_COLORS = ['#4c78a8', '#e45756', '#54a24b', '#b279a2', '#f58518', '#72b7b2'];
const TESTED_COLOR = '#8c8c8c';

/** Capacity shown for a tier: its level, 0 when it lies below the tested range; null when nothing was measured. */
export function plottedCapacity(t: Pick<TierJson, 'concurrency' | 'range'>): number | null {
  if (t.range === 'below') return 0;
  return t.concurrency;
}

function tierPoints(frontier: SloFrontierJson) {
  return frontier.rules.flatMap((r) =>
    r.tiers.flatMap((t) => {
      const y = plottedCapacity(t);
      if (y === null || t.threshold_ms === null) return [];
      const shown =
        t.range === 'below'
          ? `< ${t.first_fail?.concurrency ?? 'lowest tested'}`
          : t.range === 'above'
            ? `≥ ${y}`
            : String(y);
      return [
        {
          rule: r.rule,
          series: `${r.stat}(${r.metric})`,
          threshold_ms: t.threshold_ms,
          capacity: y,
          range: RANGE_LABEL[t.range],
          tip: `${t.rule} (${t.factor}× the SLO): capacity ${shown}, ${RANGE_LABEL[t.range]}`,
        },
      ];
    }),
  );
}

type Layer = Record<string, unknown>;

/** Dashed rules at the lowest and highest tested concurrency, labelled: the tested range. */
function testedRangeLayers(tested: readonly number[]): Layer[] {
  if (tested.length === 0) return [];
  const lo = Math.min(...tested);
  const hi = Math.max(...tested);
  const bounds = [
    { capacity: lo, label: `lowest tested ${lo}` },
    ...(hi !== lo ? [{ capacity: hi, label: `highest tested ${hi}` }] : []),
  ];
  const y = { field: 'capacity', type: 'quantitative' };
  return [
    {
      data: { values: bounds },
      mark: { type: 'rule', color: TESTED_COLOR, strokeDash: [4, 4], aria: false },
      encoding: { y },
    },
    {
      data: { values: bounds },
      mark: {
        type: 'text',
        color: TESTED_COLOR,
        fontSize: 10,
        align: 'left',
        baseline: 'bottom',
        dx: 4,
        dy: -2,
        aria: false,
      },
      encoding: { x: { value: 0 }, y, text: { field: 'label' } },
    },
  ];
}

/** One line per rule through its tiers, and a point per tier shaped by where its capacity lies. */
function tierLayers(points: ReturnType<typeof tierPoints>, yMax: number): Layer {
  const series = [...new Set(points.map((p) => p.series))];
  const y = {
    field: 'capacity',
    type: 'quantitative',
    title: 'Capacity (concurrent requests)',
    scale: { domain: [0, yMax], nice: false },
  };
  const x = {
    field: 'threshold_ms',
    type: 'quantitative',
    title: 'Threshold of the tier (ms, log scale)',
    scale: { type: 'log' },
  };
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'Rule',
    scale: { domain: series, range: series.map((_, i) => RULE_COLORS[i % RULE_COLORS.length]!) },
  };
  const shape = {
    field: 'range',
    type: 'nominal',
    title: 'Capacity',
    scale: { domain: Object.values(RANGE_LABEL), range: Object.values(RANGE_SHAPE) },
  };
  const tooltip = [
    { field: 'rule', type: 'nominal', title: 'rule' },
    { field: 'threshold_ms', type: 'quantitative', title: 'threshold (ms)', format: '.3~f' },
    { field: 'capacity', type: 'quantitative', title: 'capacity' },
    { field: 'range', type: 'nominal', title: 'range' },
  ];
  return {
    data: { values: points },
    layer: [
      {
        // A capacity below the tested range is drawn at 0 but not joined: nothing was measured between.
        transform: [{ filter: { field: 'range', oneOf: [RANGE_LABEL.within, RANGE_LABEL.above] } }],
        mark: { type: 'line', strokeWidth: 1.5, aria: false },
        encoding: { x, y, color },
      },
      {
        mark: { type: 'point', filled: true, size: 70, opacity: 1 },
        encoding: { x, y, color, shape, description: { field: 'tip' }, tooltip },
      },
    ],
  };
}

/** Capacity per tier threshold, one line per latency rule; dashed lines mark the lowest and highest tested level. */
export function tiersChart(frontier: SloFrontierJson, tested: readonly number[]): FigureChart {
  const points = tierPoints(frontier);
  const yMax = Math.max(1, ...tested, ...points.map((p) => p.capacity)) * 1.08;
  return {
    id: 'sla-tiers',
    title: 'SLA tiers: capacity versus threshold',
    caption:
      'Each point is one tier of a latency rule: its threshold (x) and the capacity judged at it (y). Triangles up: every tested concurrency passed, so the capacity is at least that; triangles down (at 0): the lowest tested concurrency already failed. Dashed grey lines: the lowest and highest tested concurrency.',
    spec: top({ width: 540, height: 190, layer: [...testedRangeLayers(tested), tierLayers(points, yMax)] }),
  };
}
