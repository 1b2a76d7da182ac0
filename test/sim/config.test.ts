import { describe, expect, it } from 'vitest';
import {
  FAULT_TYPES,
  SIM_PRESET_NAMES,
  SimConfigError,
  checkSimConfig,
  describeSimConfig,
  kneeConcurrency,
  parseOverrides,
  predictClosedLoop,
  resolveSimConfig,
} from '../../src/sim/config.ts';

function problemsOf(fn: () => unknown): { key: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SimConfigError);
    return (err as SimConfigError).problems;
  }
  throw new Error('expected a SimConfigError');
}

describe('resolveSimConfig', () => {
  it('defaults to the demo preset', () => {
    const c = resolveSimConfig();
    expect(c.preset).toBe('demo');
    expect(c.slots).toBe(16);
    expect(c.default_max_tokens).toBe(64);
    expect(FAULT_TYPES.every((f) => c.faults[f] === 0)).toBe(true);
  });

  it('has the documented presets, each valid', () => {
    expect(SIM_PRESET_NAMES).toEqual(['demo', 'tiny', 'large', 'flaky']);
    for (const name of SIM_PRESET_NAMES) expect(resolveSimConfig(name).preset).toBe(name);
    expect(resolveSimConfig('large').slots).toBeGreaterThanOrEqual(100);
    expect(FAULT_TYPES.every((f) => resolveSimConfig('flaky').faults[f] > 0)).toBe(true);
  });

  it('applies --set strings, YAML values, nested faults and camelCase spellings', () => {
    const a = resolveSimConfig('tiny', ['slots=8', 'http_500=0.1', 'queue_limit=none', 'model=my-model']);
    expect(a.slots).toBe(8);
    expect(a.faults.http_500).toBe(0.1);
    expect(a.queue_limit).toBeNull();
    expect(a.model).toBe('my-model');
    const b = resolveSimConfig('demo', {
      slots: 4,
      queueLimit: 2,
      faults: { truncated: 0.5 },
      'faults.http_429': '0.25',
      preset: 'ignored',
    });
    expect(b.slots).toBe(4);
    expect(b.queue_limit).toBe(2);
    expect(b.faults.truncated).toBe(0.5);
    expect(b.faults.http_429).toBe(0.25);
  });

  it('does not share fault objects between resolutions', () => {
    resolveSimConfig('demo', { http_500: 0.5 });
    expect(resolveSimConfig('demo').faults.http_500).toBe(0);
  });

  it('reports every bad value at once, with did-you-mean for unknown keys', () => {
    const problems = problemsOf(() =>
      resolveSimConfig('demo', {
        slotz: 3,
        slots: 'four',
        jitter: 2,
        http_500: -0.1,
        queue_limit: 1.5,
        step_base_ms: 0,
      }),
    );
    const byKey = Object.fromEntries(problems.map((p) => [p.key, p.message]));
    expect(byKey.slotz).toMatch(/did you mean "slots"/);
    expect(byKey.slots).toMatch(/must be an integer, got "four"/);
    expect(byKey.jitter).toMatch(/<= 0.9/);
    expect(byKey.http_500).toMatch(/>= 0/);
    expect(byKey.queue_limit).toMatch(/integer/);
    expect(byKey.step_base_ms).toMatch(/> 0/);
  });

  it('rejects an unknown preset and fault rates that sum above 1', () => {
    expect(problemsOf(() => resolveSimConfig('demi'))[0]!.message).toMatch(/did you mean "demo"/);
    expect(problemsOf(() => resolveSimConfig('demo', { http_500: 0.6, http_503: 0.6 }))[0]!.message).toMatch(
      /sum to <= 1/,
    );
  });

  it('checkSimConfig returns problems instead of throwing', () => {
    const r = checkSimConfig('tiny', { slots: 0 });
    expect(r.config).toBeNull();
    expect(r.problems).toEqual([{ key: 'slots', message: 'must be >= 1, got 0' }]);
    expect(checkSimConfig('tiny', {}).config?.slots).toBe(4);
  });

  it('the error is a ToolError with code invalid_arguments and a hint', () => {
    try {
      resolveSimConfig('demo', ['nope=1']);
    } catch (err) {
      expect((err as SimConfigError).code).toBe('invalid_arguments');
      expect((err as SimConfigError).hint).toMatch(/slots/);
      return;
    }
    throw new Error('expected an error');
  });
});

describe('first_token_delay_ms', () => {
  it('defaults to 0 in every preset and is set like any other field', () => {
    for (const name of SIM_PRESET_NAMES) expect(resolveSimConfig(name).first_token_delay_ms).toBe(0);
    expect(resolveSimConfig('tiny', ['first_token_delay_ms=100']).first_token_delay_ms).toBe(100);
    expect(resolveSimConfig('tiny', { firstTokenDelayMs: 2.5 }).first_token_delay_ms).toBe(2.5);
    expect(resolveSimConfig('demo', { 'first-token-delay-ms': '0' }).first_token_delay_ms).toBe(0);
    expect(parseOverrides(['first_token_delay_ms=100'])).toEqual({ first_token_delay_ms: '100' });
  });

  it('rejects bad values in the same style as the other fields, all at once', () => {
    const byKey = (over: Record<string, unknown>) =>
      Object.fromEntries(problemsOf(() => resolveSimConfig('demo', over)).map((p) => [p.key, p.message]));
    expect(byKey({ first_token_delay_ms: -1 })).toEqual({ first_token_delay_ms: 'must be >= 0, got -1' });
    expect(byKey({ first_token_delay_ms: '100ms' })).toEqual({ first_token_delay_ms: 'must be a number, got "100ms"' });
    expect(byKey({ first_token_delay_ms: null })).toEqual({ first_token_delay_ms: 'must be a number, got null' });
    expect(byKey({ first_token_delay_ms: 'Infinity' })).toEqual({
      first_token_delay_ms: 'must be a number, got "Infinity"',
    });
    expect(byKey({ first_token_delay_ms: 600_001 })).toEqual({ first_token_delay_ms: 'must be <= 600000, got 600001' });
    expect(byKey({ first_token_delay: 100, slots: 0 })).toEqual({
      first_token_delay: 'unknown setting (did you mean "first_token_delay_ms"?)',
      slots: 'must be >= 1, got 0',
    });
    expect(problemsOf(() => parseOverrides(['first_token_delay=5']))[0]!.message).toMatch(
      /did you mean "first_token_delay_ms"/,
    );
    expect(checkSimConfig('tiny', ['first_token_delay_ms=-5']).problems).toEqual([
      { key: 'first_token_delay_ms', message: 'must be >= 0, got -5' },
    ]);
  });

  it('predictions: the delay adds to TTFT below the knee, and moves the knee; describeSimConfig says so', () => {
    const config = resolveSimConfig('demo', { jitter: 0, first_token_delay_ms: 100 });
    const p = predictClosedLoop(config, 16, { outputTokens: 64 });
    expect([p.ttftLowMs, p.ttftMeanMs, p.ttftHighMs]).toEqual([114, 128, 128]);
    expect(p.e2eMs).toBe(128 + 63 * 14);
    expect(p.queued).toBe(false);
    // Clients in their delay hold no slot: the slots fill at about 16 × (1 + (128 − 14) / (64 × 14)) ≈ 18.
    expect(kneeConcurrency(config, { outputTokens: 64 })).toBe(19);
    expect(predictClosedLoop(config, 17, { outputTokens: 64 })).toMatchObject({ queued: false, ttftMeanMs: 128 });
    const above = predictClosedLoop(config, 24, { outputTokens: 64 });
    expect(above.queued).toBe(true);
    expect(above.ttftMeanMs).toBeCloseTo(14 * (1 + (64 * 8) / 16));
    expect(above.qps).toBeCloseTo((16 / (64 * 14)) * 1000);
    expect(describeSimConfig(config)).toMatch(
      /first-token delay 100 ms.*knee at concurrency 19 \(clients in their first-token delay hold no slot\)/,
    );
    expect(describeSimConfig(resolveSimConfig('demo'))).not.toMatch(/first-token/);
  });
});

describe('parseOverrides', () => {
  it('parses key=value and keeps values as strings', () => {
    expect(parseOverrides(['slots=8', 'faults.truncated=0.2', 'error_message=a=b'])).toEqual({
      slots: '8',
      truncated: '0.2',
      error_message: 'a=b',
    });
  });

  it('rejects malformed arguments and unknown keys', () => {
    const problems = problemsOf(() => parseOverrides(['slots', 'http500=0.1', 'zzzzzzzz=1']));
    expect(problems[0]).toEqual({ key: 'slots', message: 'expected key=value, e.g. slots=8' });
    expect(problems[1]!.message).toMatch(/did you mean "http_500"/);
    expect(problems[2]!.message).toMatch(/known: model, slots/);
  });
});

describe('predictClosedLoop', () => {
  const config = resolveSimConfig('demo', { jitter: 0 });

  it('below the knee: one to two steps', () => {
    const p = predictClosedLoop(config, 16, { outputTokens: 64 });
    expect(p.queued).toBe(false);
    expect(p.stepMs).toBe(14);
    expect(p.ttftMeanMs).toBe(28);
    expect(p.e2eMs).toBe(28 + 63 * 14);
    expect(predictClosedLoop(config, 16, { outputTokens: 64, promptTokens: 1000 }).ttftMeanMs).toBe(28 + 16 * 10);
  });

  it("above the knee: Little's law", () => {
    const p = predictClosedLoop(config, 20, { outputTokens: 64 });
    expect(p.queued).toBe(true);
    expect(p.ttftMeanMs).toBeCloseTo(14 * (1 + (64 * 4) / 16));
    expect(p.qps).toBeCloseTo((16 / (64 * 14)) * 1000);
    expect(p.ttftHighMs).toBeGreaterThan(64 * 14);
  });

  it('describeSimConfig names the knee', () => {
    expect(describeSimConfig(config)).toMatch(/16 slots.*knee at concurrency 16/);
  });
});

describe('the settings of traffic shapes', () => {
  it('default to no reasoning, o200k_base, no prefix cache, 8192 KV tokens per slot', () => {
    const c = resolveSimConfig();
    expect(c).toMatchObject({
      reasoning_tokens: 0,
      tokenizer: 'o200k_base',
      prefix_cache: false,
      prefix_cache_tokens: 1 << 20,
      kv_tokens_per_slot: 8192,
    });
  });

  it('accept --set strings and YAML values', () => {
    const a = resolveSimConfig('tiny', ['reasoning_tokens=3', 'tokenizer=cl100k_base', 'prefix_cache=yes']);
    expect(a).toMatchObject({ reasoning_tokens: 3, tokenizer: 'cl100k_base', prefix_cache: true });
    const b = resolveSimConfig('tiny', { prefixCache: true, prefix_cache_tokens: 4096, kv_tokens_per_slot: 100 });
    expect(b).toMatchObject({ prefix_cache: true, prefix_cache_tokens: 4096, kv_tokens_per_slot: 100 });
    expect(resolveSimConfig('tiny', ['prefix_cache=false']).prefix_cache).toBe(false);
  });

  it('report bad values', () => {
    const problems = problemsOf(() =>
      resolveSimConfig('demo', {
        reasoning_tokens: -1,
        tokenizer: 'o200k',
        prefix_cache: 'maybe',
        prefix_cache_tokens: 8,
        kv_tokens_per_slot: 0,
      }),
    );
    const byKey = Object.fromEntries(problems.map((p) => [p.key, p.message]));
    expect(byKey.reasoning_tokens).toMatch(/>= 0/);
    expect(byKey.tokenizer).toMatch(/must be one of o200k_base, cl100k_base.*did you mean "o200k_base"/);
    expect(byKey.prefix_cache).toMatch(/must be true or false/);
    expect(byKey.prefix_cache_tokens).toMatch(/>= 16/);
    expect(byKey.kv_tokens_per_slot).toMatch(/>= 1/);
  });
});
