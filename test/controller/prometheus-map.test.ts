// The mapping of vLLM, SGLang and TGI metric names to one set, on bodies shaped like each server's /metrics.
import { describe, expect, it } from 'vitest';
import { mapPrometheusText } from '../../src/controller/prometheus-map.ts';

const VLLM_V1 = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 16.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 15.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0
vllm:num_requests_waiting{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.0
# HELP vllm:kv_cache_usage_perc KV-Cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.5
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.25
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1000.0
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 400.0
# TYPE vllm:gpu_prefix_cache_queries_total counter
vllm:gpu_prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1000.0
# TYPE vllm:num_preemptions_total counter
vllm:num_preemptions_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
# TYPE vllm:num_preemptions_created gauge
vllm:num_preemptions_created{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.76e+09
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="m"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 12.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 12.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 3.2
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2e+09
`;

const VLLM_V0 = `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 4.0
# TYPE vllm:num_requests_swapped gauge
vllm:num_requests_swapped{model_name="m"} 0.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} 0.0
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="m"} 0.98
# TYPE vllm:gpu_prefix_cache_hit_rate gauge
vllm:gpu_prefix_cache_hit_rate{model_name="m"} 0.1
`;

const SGLANG = `# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 8.128902e+06
# HELP sglang:generation_tokens_total Number of generation tokens processed.
# TYPE sglang:generation_tokens_total counter
sglang:generation_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.557572e+06
# HELP sglang:token_usage The token usage
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.28
# HELP sglang:cache_hit_rate The cache hit rate
# TYPE sglang:cache_hit_rate gauge
sglang:cache_hit_rate{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.007507552643049313
# HELP sglang:num_running_reqs The number of running requests
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct"} 162.0
# HELP sglang:num_used_tokens The number of used tokens
# TYPE sglang:num_used_tokens gauge
sglang:num_used_tokens{model_name="meta-llama/Llama-3.1-8B-Instruct"} 123859.0
# HELP sglang:num_queue_reqs The number of requests in the waiting queue
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct"} 2826.0
`;

// TGI's exporter writes no HELP and types its gauges.
const TGI = `# TYPE tgi_queue_size gauge
tgi_queue_size 7
# TYPE tgi_batch_current_size gauge
tgi_batch_current_size 32
# TYPE tgi_batch_current_max_tokens gauge
tgi_batch_current_max_tokens 20480
# TYPE tgi_request_count counter
tgi_request_count 1024
# TYPE tgi_request_duration histogram
tgi_request_duration_bucket{le="0.5"} 3
tgi_request_duration_bucket{le="+Inf"} 9
tgi_request_duration_sum 4.2
tgi_request_duration_count 9
`;

describe('mapPrometheusText', () => {
  it.each([
    {
      name: 'vLLM v1, two engines (data parallel): counts add up, KV usage is the fullest engine',
      text: VLLM_V1,
      engine: 'vllm',
      values: {
        num_requests_running: 31,
        num_requests_waiting: 3,
        kv_cache_usage_perc: 0.5,
        prefix_cache_queries_total: 1000,
        prefix_cache_hits_total: 400,
      },
      raw: {
        'vllm:num_preemptions_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"}': 7,
        process_resident_memory_bytes: 1.2e9,
      },
    },
    {
      name: 'vLLM v0: gpu_cache_usage_perc is the KV usage; unknown gauges kept raw',
      text: VLLM_V0,
      engine: 'vllm',
      values: { num_requests_running: 4, num_requests_waiting: 0, kv_cache_usage_perc: 0.98 },
      raw: {
        'vllm:num_requests_swapped{model_name="m"}': 0,
        'vllm:gpu_prefix_cache_hit_rate{model_name="m"}': 0.1,
      },
    },
    {
      name: 'SGLang: num_running_reqs, num_queue_reqs, token_usage, cache_hit_rate',
      text: SGLANG,
      engine: 'sglang',
      values: {
        num_requests_running: 162,
        num_requests_waiting: 2826,
        kv_cache_usage_perc: 0.28,
        prefix_cache_hit_rate: 0.007507552643049313,
        prompt_tokens_total: 8128902,
        generation_tokens_total: 7557572,
      },
      raw: { 'sglang:num_used_tokens{model_name="meta-llama/Llama-3.1-8B-Instruct"}': 123859 },
    },
    {
      name: 'TGI: batch size runs, the queue waits; histograms are not kept',
      text: TGI,
      engine: 'tgi',
      values: { num_requests_running: 32, num_requests_waiting: 7 },
      raw: { tgi_batch_current_max_tokens: 20480, tgi_request_count: 1024 },
    },
    {
      name: 'an unknown server: everything raw',
      text: 'up 1\nmy_queue_depth{pool="a"} 4\n',
      engine: 'other',
      values: {},
      raw: { up: 1, 'my_queue_depth{pool="a"}': 4 },
    },
  ])('$name', ({ text, engine, values, raw }) => {
    const got = mapPrometheusText(text);
    expect(got.engine).toBe(engine);
    expect(got.values).toEqual(values);
    expect(got.raw).toEqual(raw);
    expect(got.families).toBeGreaterThan(0);
  });

  it('an HTML page or an empty body has no metric family', () => {
    expect(mapPrometheusText('<html><body>Not here</body></html>').families).toBe(0);
    expect(mapPrometheusText('').families).toBe(0);
  });

  it('the simulator /metrics body maps to vLLM names', () => {
    const sim = `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="sim-llm"} 4
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="sim-llm"} 2
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="sim-llm"} 0.015625
# TYPE vllm:request_success_total counter
vllm:request_success_total{finished_reason="stop",model_name="sim-llm"} 0
vllm:request_success_total{finished_reason="length",model_name="sim-llm"} 9
`;
    expect(mapPrometheusText(sim)).toEqual({
      engine: 'vllm',
      values: { num_requests_running: 4, num_requests_waiting: 2, kv_cache_usage_perc: 0.015625 },
      raw: {
        'vllm:request_success_total{finished_reason="stop",model_name="sim-llm"}': 0,
        'vllm:request_success_total{finished_reason="length",model_name="sim-llm"}': 9,
      },
      families: 4,
    });
  });
});
