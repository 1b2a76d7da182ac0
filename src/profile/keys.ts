// The keys a profile may contain and the defaults applied when they are absent.
// profiles/profile.schema.json must describe exactly these keys (test/profile/schema.test.ts checks it).

/**
 * A node of the key tree: an object lists a mapping's allowed keys; `'value'` is a leaf checked in code
 * (scalar, list, or mapping-or-list); `'map'` a mapping with free-form keys (headers, extra_body, overrides).
 */
export type KeySpec = { readonly [key: string]: KeySpec | 'value' | 'map' };

export const CONCURRENCY_KEYS = {
  start: 'value',
  step: 'value',
  factor: 'value',
  max: 'value',
} as const satisfies KeySpec;

export const KEY_TREE = {
  name: 'value',
  target: {
    base_url: 'value',
    model: 'value',
    api_key_env: 'value',
    headers: 'map',
    // `preset` plus any simulator setting; the simulator validates the overrides when it starts.
    simulator: 'map',
    metrics_url: 'value',
  },
  request: {
    messages: 'value',
    prompts_file: 'value',
    dataset: { path: 'value', format: 'value', limit: 'value', seed: 'value', tokenizer: 'value' },
    // input_tokens and output_tokens: N, or a mapping {mean, stddev, min, max} (TOKEN_LENGTH_KEYS).
    synthetic: { input_tokens: 'value', output_tokens: 'value', tokenizer: 'value', prefix_tokens: 'value' },
    endpoint: 'value',
    conversation: { turns: 'value', think_time: 'value' },
    max_tokens: 'value',
    temperature: 'value',
    stream: 'value',
    seed: 'value',
    extra_body: 'map',
    timeouts: { first_token: 'value', idle: 'value', total: 'value' },
  },
  ramp: {
    // A mapping with CONCURRENCY_KEYS, or an explicit list of levels.
    concurrency: 'value',
    // The same shapes in requests/s: a rate run (open loop). Excludes concurrency.
    rate: 'value',
    arrival: 'value',
    burstiness: 'value',
    max_in_flight: 'value',
    warmup: 'value',
    stage: { duration: 'value', requests: 'value' },
    drain: 'value',
  },
  slo: 'value',
  verdict: {
    confidence: 'value',
    confirm_failures: 'value',
    max_extensions: 'value',
    bisect: 'value',
    resolution: 'value',
    max_event_loop_delay: 'value',
    min_achieved_concurrency: 'value',
  },
  stop: { on_breach: 'value', max_error_rate: 'value' },
  limits: { max_duration: 'value', max_requests: 'value', max_output_tokens: 'value' },
  report: {
    dir: 'value',
    headroom: 'value',
    efficiency: 'value',
    // A list of factors of each latency rule's threshold.
    tiers: 'value',
    sizing: { peak_qps: 'value', redundancy: 'value', cost_per_hour: 'value', currency: 'value' },
  },
  goodput: { ttft: 'value', tpot: 'value', e2e: 'value' },
  workers: 'value',
  agents: 'value',
} as const satisfies KeySpec;

/** Keys of one chat message in `request.messages` (and in prompts_file lines). */
export const MESSAGE_KEYS = ['role', 'content'] as const;
export const MESSAGE_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** Keys of a token-length distribution (request.synthetic.input_tokens / output_tokens). */
export const TOKEN_LENGTH_KEYS = ['mean', 'stddev', 'min', 'max'] as const;
export const ENDPOINTS = ['chat', 'completions'] as const;
export const TOKENIZERS = ['o200k_base', 'cl100k_base'] as const;
/** Upper bounds of synthetic lengths and conversation turns: beyond them a profile is a mistake. */
export const MAX_SYNTHETIC_TOKENS = 1_000_000;
export const MAX_CONVERSATION_TURNS = 1000;
/** Datasets may be bigger than a prompts file used to be (ShareGPT subsets); the whole file is read into memory. */
export const MAX_DATASET_FILE_BYTES = 256 * 1024 * 1024;

/** extra_body keys the tool sets itself; passing them through would silently change the measurement. */
export const RESERVED_BODY_KEYS = [
  'model',
  'messages',
  'prompt',
  'stream',
  'stream_options',
  'max_tokens',
  'temperature',
] as const;

/** Model name used when the target is the embedded simulator and the profile names none (src/sim's default). */
export const SIMULATOR_MODEL = 'sim-llm';
export const DEFAULT_SIMULATOR_PRESET = 'demo';

export const MAX_CONCURRENCY = 100_000;
/** Highest offered rate a profile may ask for (requests/s). */
export const MAX_RATE = 100_000;
export const ARRIVAL_LAWS = ['poisson', 'constant', 'gamma'] as const;
export const MAX_WORKERS = 256;
/** SLA tiers: at most this many factors, each within [MIN_TIER_FACTOR, MAX_TIER_FACTOR]. */
export const MAX_TIERS = 12;
export const MIN_TIER_FACTOR = 0.01;
export const MAX_TIER_FACTOR = 100;
/** Profiles are small; anything bigger is a mistake (or an attack) and is rejected before parsing. */
export const MAX_PROFILE_BYTES = 1024 * 1024;
export const MAX_PROMPTS_FILE_BYTES = 64 * 1024 * 1024;
/** Upper bound on YAML nodes after alias expansion (a "billion laughs" document exceeds it at once). */
export const MAX_EXPANDED_NODES = 100_000;
export const MAX_YAML_DEPTH = 50;

export const DEFAULTS = {
  request: {
    /** With a simulator target the default is null: the preset's own output length applies. */
    maxTokens: 256,
    temperature: null,
    stream: true,
    seed: 1,
    timeouts: { firstTokenMs: 60_000, idleMs: 30_000, totalMs: 300_000 },
  },
  ramp: {
    concurrencyStart: 1,
    warmupMs: 5_000,
    stage: { durationMs: 30_000, requests: null },
    drainMs: 60_000,
    arrival: 'poisson',
    burstiness: 1,
    maxInFlight: 1000,
  },
  verdict: {
    confidence: 0.95,
    confirmFailures: true,
    maxExtensions: 2,
    bisect: true,
    bisectResolution: null,
    maxEventLoopDelayMs: null,
    minAchievedConcurrency: 0.8,
  },
  stop: { onBreach: true, maxErrorRate: 0.5 },
  limits: { maxDurationMs: 3_600_000, maxRequests: 100_000, maxOutputTokens: 50_000_000 },
  report: {
    dir: 'reports',
    headroom: 0.8,
    efficiencyFraction: 0.9,
    /** SLA tiers: these multiples of every latency rule's threshold. */
    tiers: [0.25, 0.5, 1, 2],
    currency: 'USD',
  },
  workers: 1,
} as const;
