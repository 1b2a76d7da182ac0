// Pure: compare.html's overlays of run A and run B against concurrency (Vega-Lite specs from the comparison).
import type { ComparedRun, ComparedStage, Comparison } from '../model/compare.ts';
import { formatMs, formatPct } from '../slo/evaluate.ts';
import { top, VERDICTS } from './charts.ts';
import type { FigureChart } from './html-parts.ts';

export const RUN_COLORS = { A: '#4c78a8', B: '#f58518' } as const;
const VERDICT_SHAPES = { PASS: 'circle', FAIL: 'cross', INCONCLUSIVE: 'diamond', INVALID: 'square' } as const;
const WIDTH = 540;
const HEIGHT = 190;

type Layer = Record<string, unknown>;

interface OverlayMetric {
  id: string;
  title: string;
  caption: string;
  yTitle: string;
  log: boolean;
  /** A share of requests: axis in percent, from 0 to at least 1 %. */
  share?: boolean;
  get: (s: ComparedStage) => number | null;
  fmt: (x: number) => string;
}

const runName = (r: ComparedRun) => `${r.label}: ${r.name}`;

function points(c: Comparison, m: OverlayMetric) {
  return [c.a, c.b].flatMap((r) =>
    r.stages.flatMap((s) => {
      const v = m.get(s);
      // A log scale cannot place 0 or a missing value.
      if (v === null || !Number.isFinite(v) || (m.log && v <= 0)) return [];
      const verdict = s.lowConfidence ? `${s.verdict} (low confidence)` : s.verdict;
      return [
        {
          run: runName(r),
          concurrency: s.concurrency,
          value: v,
          verdict: s.verdict,
          judged: s.verdict !== 'INVALID',
          tip: `Run ${r.label}, stage ${s.index} · concurrency ${s.concurrency} · ${verdict}\n${m.yTitle}: ${m.fmt(v)}`,
        },
      ];
    }),
  );
}

/** Each run's capacity as a dashed vertical rule in its colour, labelled at the top (B's label a row lower). */
function capacityLayers(c: Comparison): Layer[] {
  return [c.a, c.b].flatMap((r, row) => {
    if (r.capacity.concurrency === null) return [];
    const data = {
      values: [{ concurrency: r.capacity.concurrency, label: `capacity ${r.label}: ${r.capacity.concurrency}` }],
    };
    const x = { field: 'concurrency', type: 'quantitative' };
    return [
      {
        data,
        mark: { type: 'rule', color: RUN_COLORS[r.label], strokeWidth: 1.5, strokeDash: [5, 3], aria: false },
        encoding: { x },
      },
      {
        data,
        mark: {
          type: 'text',
          color: RUN_COLORS[r.label],
          fontSize: 10,
          fontWeight: 'bold',
          align: 'left',
          dx: 3,
          baseline: 'top',
          aria: false,
        },
        encoding: { x, y: { value: 2 + row * 12 }, text: { field: 'label' } },
      },
    ];
  });
}

function overlay(c: Comparison, m: OverlayMetric): FigureChart {
  const cs = [...c.a.stages, ...c.b.stages].map((s) => s.concurrency);
  const lo = cs.length > 0 ? Math.min(...cs) : 0;
  const hi = cs.length > 0 ? Math.max(...cs) : 1;
  const pad = Math.max(0.5, (hi - lo) * 0.04);
  const x = {
    field: 'concurrency',
    type: 'quantitative',
    title: 'Concurrency (requests in flight)',
    scale: { domain: [Math.max(0, lo - pad), hi + pad], nice: false, zero: false },
    axis: { tickMinStep: 1, format: 'd' },
  };
  const rows = points(c, m);
  const shareMax = Math.min(1, Math.max(0.01, ...rows.map((p) => p.value)) * 1.15);
  const scale = m.log ? { type: 'log' } : m.share ? { domain: [0, shareMax], nice: false } : { zero: true };
  const y = {
    field: 'value',
    type: 'quantitative',
    title: m.yTitle,
    scale,
    ...(m.share ? { axis: { format: '.1~%' } } : {}),
  };
  const runs = [runName(c.a), runName(c.b)];
  const color = {
    field: 'run',
    type: 'nominal',
    title: 'Run',
    scale: { domain: runs, range: [RUN_COLORS.A, RUN_COLORS.B] },
  };
  const shape = {
    field: 'verdict',
    type: 'nominal',
    title: 'Verdict',
    scale: { domain: VERDICTS, range: VERDICTS.map((v) => VERDICT_SHAPES[v]) },
  };
  return {
    id: m.id,
    title: m.title,
    caption: m.caption,
    spec: top({
      width: WIDTH,
      height: HEIGHT,
      resolve: { scale: { color: 'shared' } },
      layer: [
        ...capacityLayers(c),
        {
          data: { values: rows },
          layer: [
            {
              transform: [{ filter: 'datum.judged' }],
              mark: { type: 'line', strokeWidth: 1.5, aria: false },
              encoding: { x, y: { ...y, aggregate: 'mean' }, color },
            },
            {
              mark: { type: 'point', filled: true, size: 55, opacity: 0.95 },
              encoding: { x, y, color, shape, description: { field: 'tip' } },
            },
          ],
        },
      ],
    }),
  };
}

/** QPS, TTFT, E2E and error rate of both runs against concurrency, in reading order. */
export function compareCharts(c: Comparison): FigureChart[] {
  const note = 'Lines join the mean of the judged stages at each concurrency; dashed rules mark each run’s capacity.';
  const metrics: OverlayMetric[] = [
    {
      id: 'qps',
      title: 'QPS versus concurrency',
      caption: `Successful requests completed per second in each stage’s window. ${note}`,
      yTitle: 'QPS (successful completions/s)',
      log: false,
      get: (s) => s.qps,
      fmt: (v) => `${v.toFixed(2)} req/s`,
    },
    {
      id: 'ttft',
      title: `${c.ttftStat.toUpperCase()} TTFT versus concurrency`,
      caption: `The TTFT statistic the SLO uses (log scale). ${note}`,
      yTitle: `${c.ttftStat.toUpperCase()} TTFT (ms, log scale)`,
      log: true,
      get: (s) => s.ttftMs,
      fmt: formatMs,
    },
    {
      id: 'e2e',
      title: `${c.e2eStat.toUpperCase()} end-to-end latency versus concurrency`,
      caption: `End-to-end latency of successful requests (log scale). ${note}`,
      yTitle: `${c.e2eStat.toUpperCase()} E2E (ms, log scale)`,
      log: true,
      get: (s) => s.e2eMs,
      fmt: formatMs,
    },
    {
      id: 'errors',
      title: 'Error rate versus concurrency',
      caption: `Failed requests / requests started in each stage’s window. ${note}`,
      yTitle: 'Error rate',
      log: false,
      share: true,
      get: (s) => s.errorRate,
      fmt: formatPct,
    },
  ];
  return metrics.map((m) => overlay(c, m));
}
