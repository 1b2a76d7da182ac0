// An SLO rule as parsed from its text, e.g. `p99(ttft) < 1s` or `success_rate >= 99%`.

export type LatencyMetric = 'ttft' | 'ttfb' | 'e2e' | 'tpot' | 'itl' | 'ttfo';
export type LatencyStat = 'avg' | 'p50' | 'p90' | 'p95' | 'p99' | 'max';
export type Comparator = '<' | '<=' | '>' | '>=';

export type SloRule =
  | { kind: 'latency'; text: string; stat: LatencyStat; metric: LatencyMetric; op: Comparator; thresholdMs: number }
  | {
      kind: 'rate';
      text: string;
      metric: 'success_rate' | 'error_rate' | 'goodput_ratio';
      errorClass: string | null;
      op: Comparator;
      threshold: number;
    }
  | { kind: 'throughput'; text: string; metric: 'qps' | 'output_tps' | 'goodput'; op: Comparator; threshold: number };
