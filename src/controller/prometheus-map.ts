// Pure: a /metrics body (Prometheus text) → the known metrics under engine-neutral names, plus the rest raw.
// The names of vLLM, SGLang and TGI are looked up in docs/server-metrics.md; parsing is the maintained
// parse-prometheus-text-format's.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { ServerEngine, ServerMetricValues } from '../model/server-metrics.ts';

type Key = keyof ServerMetricValues;

interface Known {
  key: Key;
  /** Series of one metric (labels: engine, model, rank) add up, or the fullest one counts. */
  combine: 'sum' | 'max';
  /** Names in order of preference: the first one exposed wins (a server in transition exposes old and new). */
  names: readonly (readonly [ServerEngine, string])[];
}

export const KNOWN_METRICS: readonly Known[] = [
  {
    key: 'num_requests_running',
    combine: 'sum',
    names: [
      ['vllm', 'vllm:num_requests_running'],
      ['sglang', 'sglang:num_running_reqs'],
      ['tgi', 'tgi_batch_current_size'],
    ],
  },
  {
    key: 'num_requests_waiting',
    combine: 'sum',
    names: [
      ['vllm', 'vllm:num_requests_waiting'],
      ['sglang', 'sglang:num_queue_reqs'],
      ['tgi', 'tgi_queue_size'],
    ],
  },
  {
    key: 'kv_cache_usage_perc',
    combine: 'max',
    names: [
      ['vllm', 'vllm:kv_cache_usage_perc'],
      ['vllm', 'vllm:gpu_cache_usage_perc'],
      ['sglang', 'sglang:token_usage'],
    ],
  },
  {
    key: 'prefix_cache_hits_total',
    combine: 'sum',
    names: [
      ['vllm', 'vllm:prefix_cache_hits_total'],
      ['vllm', 'vllm:gpu_prefix_cache_hits_total'],
    ],
  },
  {
    key: 'prefix_cache_queries_total',
    combine: 'sum',
    names: [
      ['vllm', 'vllm:prefix_cache_queries_total'],
      ['vllm', 'vllm:gpu_prefix_cache_queries_total'],
    ],
  },
  { key: 'prefix_cache_hit_rate', combine: 'max', names: [['sglang', 'sglang:cache_hit_rate']] },
  {
    key: 'prompt_tokens_total',
    combine: 'sum',
    names: [
      ['vllm', 'vllm:prompt_tokens_total'],
      ['sglang', 'sglang:prompt_tokens_total'],
    ],
  },
  {
    key: 'generation_tokens_total',
    combine: 'sum',
    names: [
      ['vllm', 'vllm:generation_tokens_total'],
      ['sglang', 'sglang:generation_tokens_total'],
    ],
  },
];

const KNOWN_NAMES = new Set(KNOWN_METRICS.flatMap((k) => k.names.map(([, n]) => n)));
/** A bound on the raw series kept per scrape, so one odd exporter cannot swell server-metrics.jsonl. */
const MAX_RAW_SERIES = 300;

export interface MappedScrape {
  engine: ServerEngine;
  values: ServerMetricValues;
  raw: Record<string, number>;
  /** Metric families with at least one scalar sample: 0 means the body was not Prometheus text. */
  families: number;
}

// Histogram buckets are most of a vLLM body (~90 %) and nothing here reads them: dropped before parsing.
const BUCKET_LINE = /^[^#\s{]*_bucket[{\s]/;

function seriesKey(name: string, labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return name;
  return `${name}{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

/** Scalar series of each gauge, counter or untyped family: name → [series key, value][]. */
function scalarSeries(text: string): Map<string, [string, number][]> {
  const kept = text
    .split('\n')
    .filter((line) => !BUCKET_LINE.test(line))
    .join('\n');
  const out = new Map<string, [string, number][]>();
  for (const family of parsePrometheusTextFormat(kept)) {
    if (family.type === 'HISTOGRAM' || family.type === 'SUMMARY') continue;
    const list: [string, number][] = [];
    for (const m of family.metrics) {
      const v = Number(m.value);
      if (m.value !== undefined && Number.isFinite(v)) list.push([seriesKey(family.name, m.labels), v]);
    }
    if (list.length > 0) out.set(family.name, [...(out.get(family.name) ?? []), ...list]);
  }
  return out;
}

/** Maps a /metrics body; throws only if the parser does (a body it cannot read at all). */
export function mapPrometheusText(text: string): MappedScrape {
  const series = scalarSeries(text);
  const values: ServerMetricValues = {};
  let engine: ServerEngine | null = null;
  for (const known of KNOWN_METRICS) {
    const hit = known.names.find(([, name]) => series.has(name));
    if (!hit) continue;
    const xs = series.get(hit[1])!.map(([, v]) => v);
    values[known.key] = known.combine === 'sum' ? xs.reduce((a, b) => a + b, 0) : Math.max(...xs);
    engine ??= hit[0];
  }
  const raw: Record<string, number> = {};
  let kept = 0;
  for (const [name, list] of series) {
    // Client libraries' creation timestamps say nothing about load.
    if (KNOWN_NAMES.has(name) || name.endsWith('_created')) continue;
    for (const [key, v] of list) if (kept++ < MAX_RAW_SERIES) raw[key] = v;
  }
  return { engine: engine ?? 'other', values, raw, families: series.size };
}
