// Simulator configuration: the field table (one source for validation, --set parsing and docs), presets,
// and the resolution of a preset plus overrides into a validated SimConfig.
// Field names are snake_case everywhere (TypeScript, `--set key=value`, profile YAML) so one name works in all three.
import { ToolError } from '../errors.ts';
import { TOKENIZER_NAMES, type TokenizerName } from './tokenizer.ts';

export const FAULT_TYPES = [
  'http_500',
  'http_503',
  'http_429',
  'reset_before_headers',
  'reset_mid_stream',
  'stall_after_headers',
  'malformed_chunk',
  'error_event',
  'truncated',
  'empty_completion',
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

/** Probability per chat or legacy completion request of each fault; the faults are mutually exclusive, so they must sum to <= 1. */
export type FaultRates = Record<FaultType, number>;

export interface SimConfig {
  /** Name of the preset this config was resolved from (informational). */
  preset: string;
  /** Model id reported by /v1/models and in every response; any model name is accepted in requests. */
  model: string;
  /** Sequences decoded at once (the batch size); the knee of the capacity curve sits here by construction. */
  slots: number;
  /** Requests allowed to wait for a slot; beyond it (active + waiting >= slots + queue_limit) a 429. Null = unbounded. */
  queue_limit: number | null;
  /** Prefill cost added to the step that admits a request, per 1000 prompt tokens. */
  prefill_ms_per_1k_tokens: number;
  /**
   * Fixed delay between a request's arrival and its joining the queue for a slot: prefill done elsewhere (e.g.
   * disaggregated prefill), so it stalls no other stream. TTFT ≈ this + one to two steps. 0 = none.
   */
  first_token_delay_ms: number;
  /** Fixed part of one decode step. */
  step_base_ms: number;
  /** Added to each decode step per active sequence. */
  step_per_seq_ms: number;
  /** Each step's duration is multiplied by a seeded uniform factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
  /** Seeds both the fault schedule (drawn per request in arrival order) and the jitter. */
  seed: number;
  /** Output tokens when the request sets neither max_tokens nor max_completion_tokens. */
  default_max_tokens: number;
  /** Request bodies larger than this get a 400. */
  max_body_bytes: number;
  /** Retry-After (seconds) sent with every 429 (queue full or injected) and 503. */
  retry_after_s: number;
  /** Message text of injected faults' error bodies (500/503/429 and the in-stream error event). */
  error_message: string;
  /** Chat completions: the first K output tokens are reasoning (`reasoning_content`), the rest content. */
  reasoning_tokens: number;
  /** The BPE encoding that counts prompt tokens (and cuts prefix-cache blocks). */
  tokenizer: TokenizerName;
  /** Reuse the KV of prompt prefixes seen recently (blocks of 16 tokens): only the uncached suffix is prefilled. */
  prefix_cache: boolean;
  /** Capacity of the prefix cache, in tokens (whole blocks); least recently used blocks are evicted beyond it. */
  prefix_cache_tokens: number;
  /** KV capacity per slot, in tokens: vllm:kv_cache_usage_perc = tokens held / (slots × this). */
  kv_tokens_per_slot: number;
  faults: FaultRates;
}

export type SimOverrides = Record<string, unknown>;

type FieldKind = 'int' | 'number' | 'int_or_null' | 'string' | 'probability' | 'bool' | 'enum';

interface FieldSpec {
  kind: FieldKind;
  min?: number;
  max?: number;
  /** Minimum is exclusive. */
  minExclusive?: boolean;
  /** The allowed values of an `enum` field. */
  values?: readonly string[];
  doc: string;
}

type ScalarKey = Exclude<keyof SimConfig, 'faults' | 'preset'>;

export const SIM_FIELDS: Record<ScalarKey, FieldSpec> = {
  model: { kind: 'string', doc: 'model id reported by /v1/models and in responses' },
  slots: { kind: 'int', min: 1, max: 1_000_000, doc: 'sequences decoded at once (the knee)' },
  queue_limit: { kind: 'int_or_null', min: 0, doc: 'max waiting requests beyond the slots; null = unbounded' },
  prefill_ms_per_1k_tokens: {
    kind: 'number',
    min: 0,
    doc: 'prefill cost per 1000 prompt tokens, charged to the admitting step',
  },
  first_token_delay_ms: {
    kind: 'number',
    min: 0,
    max: 600_000,
    doc: 'fixed delay after arrival before a request joins the queue (prefill done elsewhere); stalls no other stream',
  },
  step_base_ms: { kind: 'number', min: 0, minExclusive: true, max: 600_000, doc: 'fixed part of a decode step' },
  step_per_seq_ms: { kind: 'number', min: 0, max: 600_000, doc: 'decode step cost per active sequence' },
  jitter: { kind: 'number', min: 0, max: 0.9, doc: 'step duration factor is uniform in [1-jitter, 1+jitter]' },
  seed: { kind: 'int', min: 0, max: 0xffffffff, doc: 'seed of the fault schedule and the jitter' },
  default_max_tokens: { kind: 'int', min: 1, max: 1_000_000, doc: 'output tokens when the request sets no max_tokens' },
  max_body_bytes: { kind: 'int', min: 1024, max: 1 << 30, doc: 'larger request bodies get a 400' },
  retry_after_s: { kind: 'int', min: 0, max: 86_400, doc: 'Retry-After of 429 and 503 responses' },
  error_message: { kind: 'string', doc: 'message text of injected faults' },
  reasoning_tokens: {
    kind: 'int',
    min: 0,
    max: 1_000_000,
    doc: 'chat: the first K output tokens are sent as reasoning_content, the rest as content',
  },
  tokenizer: { kind: 'enum', values: TOKENIZER_NAMES, doc: 'encoding that counts prompt tokens' },
  prefix_cache: { kind: 'bool', doc: 'prefill only the part of a prompt not in the prefix cache (16-token blocks)' },
  prefix_cache_tokens: { kind: 'int', min: 16, max: 1 << 30, doc: 'prefix cache capacity in tokens, LRU' },
  kv_tokens_per_slot: {
    kind: 'int',
    min: 1,
    max: 1 << 30,
    doc: 'KV capacity per slot in tokens, for vllm:kv_cache_usage_perc',
  },
};

export const FAULT_DOCS: Record<FaultType, string> = {
  http_500: 'HTTP 500 with an OpenAI-style error body, at once',
  http_503: 'HTTP 503 with Retry-After, at once',
  http_429: 'HTTP 429 with Retry-After, at once',
  reset_before_headers: 'TCP reset before any response byte',
  reset_mid_stream: 'TCP reset after k content tokens (k drawn in [1, max(1, n-1)])',
  stall_after_headers: 'headers (and the role chunk when streaming), then silence until the client closes',
  malformed_chunk: 'a `data: {not json` event after k tokens; the stream then completes normally',
  error_event: 'a `data: {"error": {...}}` event after k tokens, then `data: [DONE]`',
  truncated: 'the body ends cleanly after k tokens, without finish_reason and without [DONE]',
  empty_completion: 'finish_reason "stop" with zero content tokens',
};

const NO_FAULTS: FaultRates = Object.fromEntries(FAULT_TYPES.map((f) => [f, 0])) as FaultRates;

const BASE: Omit<SimConfig, 'preset'> = {
  model: 'sim-llm',
  slots: 16,
  queue_limit: null,
  prefill_ms_per_1k_tokens: 10,
  first_token_delay_ms: 0,
  step_base_ms: 10,
  step_per_seq_ms: 0.25,
  jitter: 0.1,
  seed: 1,
  default_max_tokens: 64,
  max_body_bytes: 1 << 20,
  retry_after_s: 1,
  error_message: 'The simulator injected this fault.',
  reasoning_tokens: 0,
  tokenizer: 'o200k_base',
  prefix_cache: false,
  prefix_cache_tokens: 1 << 20,
  kv_tokens_per_slot: 8192,
  faults: NO_FAULTS,
};

/** Presets; `docs/simulator.md` lists their predicted capacity (knee = slots) and TTFT in both regimes. */
export const SIM_PRESETS: Record<string, Omit<SimConfig, 'preset'>> = {
  // Quick start target: 14 ms steps at 16 active, 64 tokens ≈ 0.9 s per request; TTFT <= 2 steps (≈ 30 ms) up to 16,
  // mean 5 steps at 17 (p99 ≈ a whole request), 17 steps at 20.
  demo: { ...BASE },
  // Small and fast, for tests: 7 ms steps at 4 active, 16 tokens ≈ 0.12 s per request.
  tiny: {
    ...BASE,
    slots: 4,
    step_base_ms: 5,
    step_per_seq_ms: 0.5,
    jitter: 0.05,
    default_max_tokens: 16,
  },
  // A big deployment: 256 slots, 33 ms steps at full batch, 64 tokens ≈ 2.1 s per request.
  large: {
    ...BASE,
    slots: 256,
    prefill_ms_per_1k_tokens: 20,
    step_base_ms: 20,
    step_per_seq_ms: 0.05,
  },
  // demo plus about 10 % injected faults of every kind.
  flaky: {
    ...BASE,
    faults: {
      http_500: 0.02,
      http_503: 0.01,
      http_429: 0.01,
      reset_before_headers: 0.01,
      reset_mid_stream: 0.01,
      stall_after_headers: 0.005,
      malformed_chunk: 0.01,
      error_event: 0.01,
      truncated: 0.01,
      empty_completion: 0.01,
    },
  },
};

export const SIM_PRESET_NAMES = Object.keys(SIM_PRESETS);

export interface SimConfigProblem {
  /** The override key as given (or `preset`). */
  key: string;
  message: string;
}

export class SimConfigError extends ToolError {
  readonly problems: SimConfigProblem[];
  constructor(problems: SimConfigProblem[]) {
    super(
      'invalid_arguments',
      `invalid simulator setting${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  ${p.key}: ${p.message}`).join('\n'),
      `settings: ${allKeys().join(', ')}; presets: ${SIM_PRESET_NAMES.join(', ')}`,
    );
    this.name = 'SimConfigError';
    this.problems = problems;
  }
}

function allKeys(): string[] {
  return [...Object.keys(SIM_FIELDS), ...FAULT_TYPES];
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest known name, if it is close enough to be a plausible typo. */
export function didYouMean(name: string, candidates: readonly string[]): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(lower) || lower.startsWith(c) ? 1 : editDistance(lower, c);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(lower.length / 3)) ? best : null;
}

function unknownKeyMessage(key: string, candidates: readonly string[]): string {
  const guess = didYouMean(key, candidates);
  return guess ? `unknown setting (did you mean "${guess}"?)` : `unknown setting; known: ${candidates.join(', ')}`;
}

/** camelCase and dashes are accepted as spellings of the snake_case names. */
function normalizeKey(key: string): string {
  return key
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function coerceBool(value: unknown): { ok: true; value: boolean } | { ok: false; message: string } {
  if (typeof value === 'boolean') return { ok: true, value };
  const text = typeof value === 'string' ? value.trim().toLowerCase() : null;
  if (text === 'true' || text === 'yes' || text === 'on' || text === '1') return { ok: true, value: true };
  if (text === 'false' || text === 'no' || text === 'off' || text === '0') return { ok: true, value: false };
  return { ok: false, message: `must be true or false, got ${describe(value)}` };
}

function coerceEnum(
  values: readonly string[],
  value: unknown,
): { ok: true; value: string } | { ok: false; message: string } {
  if (typeof value === 'string' && values.includes(value.trim())) return { ok: true, value: value.trim() };
  const guess = typeof value === 'string' ? didYouMean(value.trim(), values) : null;
  const hint = guess ? ` (did you mean "${guess}"?)` : '';
  return { ok: false, message: `must be one of ${values.join(', ')}, got ${describe(value)}${hint}` };
}

/** Coerces one value (a YAML scalar or a `--set` string) to the field's type; returns an error message on failure. */
function coerce(
  spec: FieldSpec,
  value: unknown,
): { ok: true; value: number | string | boolean | null } | { ok: false; message: string } {
  if (spec.kind === 'bool') return coerceBool(value);
  if (spec.kind === 'enum') return coerceEnum(spec.values ?? [], value);
  if (spec.kind === 'string') {
    if (typeof value === 'string' || typeof value === 'number') return { ok: true, value: String(value) };
    return { ok: false, message: `must be a string, got ${describe(value)}` };
  }
  if (
    spec.kind === 'int_or_null' &&
    (value === null || (typeof value === 'string' && /^(null|none|unbounded|)$/i.test(value.trim())))
  ) {
    return { ok: true, value: null };
  }
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && NUMBER_RE.test(value.trim())) n = Number(value.trim());
  else {
    const what = spec.kind === 'int' ? 'an integer' : spec.kind === 'int_or_null' ? 'an integer or null' : 'a number';
    return { ok: false, message: `must be ${what}, got ${describe(value)}` };
  }
  if (!Number.isFinite(n)) return { ok: false, message: `must be a finite number, got ${describe(value)}` };
  if ((spec.kind === 'int' || spec.kind === 'int_or_null') && !Number.isInteger(n)) {
    return { ok: false, message: `must be an integer, got ${describe(value)}` };
  }
  const min = spec.kind === 'probability' ? 0 : spec.min;
  const max = spec.kind === 'probability' ? 1 : spec.max;
  if (min !== undefined && (spec.minExclusive ? n <= min : n < min)) {
    return { ok: false, message: `must be ${spec.minExclusive ? '>' : '>='} ${min}, got ${n}` };
  }
  if (max !== undefined && n > max) return { ok: false, message: `must be <= ${max}, got ${n}` };
  return { ok: true, value: n };
}

/**
 * Parses `--set key=value` arguments into an overrides object (values stay strings; they are typed and
 * range-checked by resolveSimConfig). Throws SimConfigError listing every malformed or unknown key.
 */
export function parseOverrides(args: readonly string[]): SimOverrides {
  const out: SimOverrides = {};
  const problems: SimConfigProblem[] = [];
  const known = allKeys();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      problems.push({ key: arg, message: 'expected key=value, e.g. slots=8' });
      continue;
    }
    const rawKey = arg.slice(0, eq).trim();
    const key = normalizeKey(rawKey).replace(/^faults\./, '');
    if (!known.includes(key)) {
      problems.push({ key: rawKey, message: unknownKeyMessage(key, known) });
      continue;
    }
    out[key] = arg.slice(eq + 1);
  }
  if (problems.length > 0) throw new SimConfigError(problems);
  return out;
}

/**
 * Validates a preset name plus overrides and reports every problem at once (for the profile validator,
 * which turns each `key` into a located message). `config` is null when there is any problem.
 */
export function checkSimConfig(
  preset: string | undefined,
  overrides: SimOverrides | readonly string[] = {},
): {
  config: SimConfig | null;
  problems: SimConfigProblem[];
} {
  const problems: SimConfigProblem[] = [];
  const presetName = preset ?? 'demo';
  const base = SIM_PRESETS[presetName];
  if (!base) {
    const guess = didYouMean(presetName, SIM_PRESET_NAMES);
    problems.push({
      key: 'preset',
      message: `unknown preset ${JSON.stringify(presetName)}${guess ? ` (did you mean "${guess}"?)` : ''}; presets: ${SIM_PRESET_NAMES.join(', ')}`,
    });
  }
  let entries: [string, unknown][];
  if (Array.isArray(overrides)) {
    try {
      entries = Object.entries(parseOverrides(overrides as readonly string[]));
    } catch (err) {
      if (err instanceof SimConfigError) return { config: null, problems: [...problems, ...err.problems] };
      throw err;
    }
  } else {
    entries = [];
    for (const [key, value] of Object.entries(overrides as SimOverrides)) {
      // `faults: {http_500: 0.1}` in YAML is the same as `http_500: 0.1`.
      if (normalizeKey(key) === 'faults' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const [fk, fv] of Object.entries(value as Record<string, unknown>)) entries.push([`faults.${fk}`, fv]);
      } else if (normalizeKey(key) !== 'preset') {
        entries.push([key, value]);
      }
    }
  }
  const config: SimConfig = { ...(base ?? BASE), preset: presetName, faults: { ...(base ?? BASE).faults } };
  const known = allKeys();
  for (const [rawKey, value] of entries) {
    const key = normalizeKey(rawKey).replace(/^faults\./, '');
    if ((FAULT_TYPES as readonly string[]).includes(key)) {
      const r = coerce({ kind: 'probability', doc: '' }, value);
      if (!r.ok) problems.push({ key: rawKey, message: r.message });
      else config.faults[key as FaultType] = r.value as number;
      continue;
    }
    const spec = (SIM_FIELDS as Record<string, FieldSpec | undefined>)[key];
    if (!spec) {
      problems.push({ key: rawKey, message: unknownKeyMessage(key, known) });
      continue;
    }
    const r = coerce(spec, value);
    if (!r.ok) problems.push({ key: rawKey, message: r.message });
    else (config as unknown as Record<string, unknown>)[key] = r.value;
  }
  const faultSum = FAULT_TYPES.reduce((s, f) => s + config.faults[f], 0);
  if (faultSum > 1 + 1e-9) {
    problems.push({
      key: 'faults',
      message: `fault probabilities are exclusive and must sum to <= 1, got ${Number(faultSum.toFixed(6))}`,
    });
  }
  return problems.length > 0 ? { config: null, problems } : { config, problems };
}

/** A preset (default `demo`) with overrides applied; throws SimConfigError (code invalid_arguments) listing every problem. */
export function resolveSimConfig(preset?: string, overrides: SimOverrides | readonly string[] = {}): SimConfig {
  const { config, problems } = checkSimConfig(preset, overrides);
  if (!config) throw new SimConfigError(problems);
  return config;
}

/** Duration of one decode step with `active` sequences, before prefill and jitter. */
export function stepMs(config: SimConfig, active: number): number {
  return config.step_base_ms + config.step_per_seq_ms * active;
}

/** Prefill cost of a prompt, charged to the step that admits it. */
export function prefillMs(config: SimConfig, promptTokens: number): number {
  return (config.prefill_ms_per_1k_tokens * promptTokens) / 1000;
}

export interface ClosedLoopPrediction {
  concurrency: number;
  /** Decode step duration in steady state (above the knee including the prefill spread over the steps). */
  stepMs: number;
  /** Mean TTFT (the formulas below). */
  ttftMeanMs: number;
  /**
   * Range of individual TTFTs (without jitter and network time). Below the knee: one to two steps.
   * Between slots and 2 × slots: most requests get a slot at once (low end) and about (C − slots) per cycle
   * wait nearly a whole request (high end), so high percentiles jump right above the knee.
   */
  ttftLowMs: number;
  ttftHighMs: number;
  e2eMs: number;
  /** Completed requests per second. */
  qps: number;
  outputTokensPerS: number;
  /**
   * The slots are full: requests queue for a slot (above the knee). Without a first-token delay that is C > slots;
   * with one, clients in their delay hold no slot, so the slots fill only from kneeConcurrency() on.
   */
  queued: boolean;
}

/**
 * Steady-state prediction for C clients in a closed loop (each sends its next request as soon as the
 * previous one ends), all with the same prompt and output length n, ignoring jitter and network time;
 * d = first_token_delay_ms.
 *   C <= slots: ttft ≈ d + step(C) + step(C) + C × prefill   (the delay, the step in progress, then the admitting
 *               step, which in lockstep admits all C requests and pays all their prefills; one step and one prefill
 *               when C = 1)
 *   C >  slots: ttft ≈ step_eff × (1 + n × (C − slots) / slots),   step_eff = step(slots) + prefill × slots / n
 *               (Little's law: slots stay full, so completions/s = slots / (n × step_eff), and a client's cycle is
 *               C / completions/s whatever part of it is the delay), and never below the value at C = slots; just
 *               above the knee this mean is approximate. Without a delay the knee itself is exact (slots); with one
 *               it moves to kneeConcurrency() because clients in their delay hold no slot.
 *   qps = C / e2e (a closed loop without think time).
 */
export function predictClosedLoop(
  config: SimConfig,
  concurrency: number,
  opts: { promptTokens?: number; outputTokens?: number } = {},
): ClosedLoopPrediction {
  const n = opts.outputTokens ?? config.default_max_tokens;
  const pf = prefillMs(config, opts.promptTokens ?? 0);
  const d = config.first_token_delay_ms;
  const c = Math.max(1, Math.floor(concurrency));
  const s = config.slots;
  if (c <= s) {
    const step = stepMs(config, c);
    const ttft = d + (c === 1 ? step + pf : 2 * step + c * pf);
    const e2e = ttft + (n - 1) * step;
    return {
      concurrency: c,
      stepMs: step,
      ttftMeanMs: ttft,
      ttftLowMs: d + step + pf,
      ttftHighMs: d + 2 * step + c * pf,
      e2eMs: e2e,
      qps: (c / e2e) * 1000,
      outputTokensPerS: ((c * n) / e2e) * 1000,
      queued: false,
    };
  }
  const atKnee = predictClosedLoop(config, s, opts);
  const step = stepMs(config, s) + (pf * s) / n;
  const littleTtft = step * (1 + (n * (c - s)) / s);
  const ttft = Math.max(littleTtft, atKnee.ttftMeanMs);
  const e2e = ttft + (n - 1) * step;
  const qps = (c / e2e) * 1000;
  // Saturated (or without a delay, just above the slots): requests wait for a slot, up to about a whole request.
  const queued = d === 0 || littleTtft >= atKnee.ttftMeanMs;
  return {
    concurrency: c,
    stepMs: step,
    ttftMeanMs: ttft,
    ttftLowMs: c < 2 * s || !queued ? atKnee.ttftLowMs : ttft,
    ttftHighMs: Math.max(ttft, d + (n + 2) * step),
    e2eMs: e2e,
    qps,
    outputTokensPerS: qps * n,
    queued,
  };
}

/**
 * The closed-loop concurrency from which the slots stay full (completions/s stop growing): `slots` without a
 * first-token delay; with a delay d, clients in their delay hold no slot, so about
 * slots × (1 + (ttft at slots − step_eff) / (n × step_eff)) ≈ slots × (1 + (d + step) / (n × step)).
 */
export function kneeConcurrency(
  config: SimConfig,
  opts: { promptTokens?: number; outputTokens?: number } = {},
): number {
  const s = config.slots;
  if (config.first_token_delay_ms === 0) return s;
  const n = opts.outputTokens ?? config.default_max_tokens;
  const atKnee = predictClosedLoop(config, s, opts);
  const step = stepMs(config, s) + (prefillMs(config, opts.promptTokens ?? 0) * s) / n;
  return Math.max(s, Math.ceil(s + (s * (atKnee.ttftMeanMs / step - 1)) / n));
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/** One line for the terminal, e.g. when `find-capacity simulate` starts. */
export function describeSimConfig(config: SimConfig): string {
  const faults = FAULT_TYPES.filter((f) => config.faults[f] > 0).map((f) => `${f}=${config.faults[f]}`);
  const delay = config.first_token_delay_ms;
  const knee = kneeConcurrency(config);
  const below = predictClosedLoop(config, knee);
  const above = predictClosedLoop(config, knee + 1);
  return (
    `simulator preset ${config.preset}: model ${config.model}, ${config.slots} slots, queue ${config.queue_limit ?? 'unbounded'}, ` +
    `step ${config.step_base_ms} + ${config.step_per_seq_ms}×active ms (${fmt(stepMs(config, config.slots))} at ${config.slots} active), ` +
    `prefill ${config.prefill_ms_per_1k_tokens} ms/1k tokens, ${delay > 0 ? `first-token delay ${fmt(delay)}, ` : ''}${config.default_max_tokens} output tokens by default, ` +
    `jitter ±${Math.round(config.jitter * 100)}%, seed ${config.seed}, faults: ${faults.length > 0 ? faults.join(' ') : 'none'}, ` +
    `prompts counted with ${config.tokenizer}${config.reasoning_tokens > 0 ? `, ${config.reasoning_tokens} reasoning tokens per chat reply` : ''}` +
    `${config.prefix_cache ? `, prefix cache of ${config.prefix_cache_tokens} tokens` : ''}; ` +
    `knee at concurrency ${knee}${delay > 0 ? ` (clients in their first-token delay hold no slot)` : ''} ` +
    `(mean TTFT ≈ ${fmt(below.ttftMeanMs)} at ${knee}; at ${knee + 1} mean ≈ ${fmt(above.ttftMeanMs)}, tail up to ≈ ${fmt(above.ttftHighMs)})`
  );
}
