// GET /metrics: the engine's state and counters in Prometheus text format, under vLLM's metric names, so a
// capacity review can scrape the simulator as it would scrape a vLLM server.
import type { SimConfig } from './config.ts';
import type { Engine } from './engine.ts';
import type { FinishReason } from './format.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Counters since the server started; every token count is in tokens. */
export class SimMetrics {
  /** Prompt tokens of the requests admitted (prefilled), cached ones included, as vLLM counts them. */
  promptTokens = 0;
  /** Output tokens generated (reasoning included): the sum of the ground truth's output_tokens. */
  generationTokens = 0;
  /** Prompt tokens looked up in the prefix cache, and those found there. */
  prefixQueries = 0;
  prefixHits = 0;
  /** Requests that finished without a fault, by finish reason. */
  readonly success: Record<FinishReason, number> = { stop: 0, length: 0 };
}

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * kv_cache_usage_perc = min(1, Σ over running sequences of (prompt tokens + tokens generated so far)
 *                              / (slots × kv_tokens_per_slot)): a shared cached prefix counts once per sequence.
 */
export function kvCacheUsage(config: SimConfig, heldTokens: number): number {
  return Math.min(1, heldTokens / (config.slots * config.kv_tokens_per_slot));
}

/** The exposition text of every metric, each with a `model_name` label. */
export function renderMetrics(config: SimConfig, engine: Engine, m: SimMetrics): string {
  const model = `model_name="${labelValue(config.model)}"`;
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}{${labels}} ${value}`);
  };
  const stats = engine.schedulerStats();
  metric('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', [
    [model, stats.running],
  ]);
  metric('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', [[model, stats.waiting]]);
  metric('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', [
    [model, kvCacheUsage(config, engine.heldTokens())],
  ]);
  metric('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.', [
    [model, m.prefixQueries],
  ]);
  metric('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.', [
    [model, m.prefixHits],
  ]);
  metric(
    'vllm:request_success_total',
    'counter',
    'Count of successfully processed requests.',
    (['stop', 'length'] as const).map((r) => [`finished_reason="${r}",${model}`, m.success[r]]),
  );
  metric('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', [[model, m.promptTokens]]);
  metric('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', [
    [model, m.generationTokens],
  ]);
  return lines.join('\n') + '\n';
}
