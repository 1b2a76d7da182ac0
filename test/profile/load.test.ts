import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileError, ToolError, formatProblem } from '../../src/errors.ts';
import { DEFAULTS, SIMULATOR_MODEL } from '../../src/profile/keys.ts';
import { loadProfile, validateProfileText } from '../../src/profile/load.ts';
import type { Profile } from '../../src/profile/types.ts';

const GOOD = 'test/fixtures/profiles/good';
const SECRET = 'fc-secret-value-1234';
const ENV = { FC_TEST_KEY: SECRET };

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'fc-profile-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const BASE = `target:
  simulator: {preset: demo}
request:
  messages: [{role: user, content: hi}]
ramp:
  concurrency: [1, 2]
`;

async function problemsOf(text: string, env: NodeJS.ProcessEnv = ENV) {
  const r = await validateProfileText(text, 'p.yaml', env);
  return r.problems.map(formatProblem);
}

describe('good profiles load to the normalized Profile', () => {
  it('minimal simulator profile takes every default', async () => {
    const file = path.join(GOOD, 'minimal-sim.yaml');
    const { profile, warnings } = await loadProfile(file, { env: {} });
    expect(warnings).toEqual([]);
    const expected: Profile = {
      name: 'minimal-sim',
      file: path.resolve(file),
      target: {
        baseUrl: null,
        model: SIMULATOR_MODEL,
        apiKeyEnv: null,
        headers: {},
        simulator: { preset: 'demo', overrides: {} },
      },
      request: {
        payloads: [{ messages: [{ role: 'user', content: 'Hello' }] }],
        source: 'inline',
        maxTokens: null,
        temperature: null,
        stream: true,
        extraBody: {},
        seed: 1,
        timeouts: { firstTokenMs: 60_000, idleMs: 30_000, totalMs: 300_000 },
        maxTokensFromDataset: false,
        endpoint: 'chat',
        dataset: null,
        synthetic: null,
        conversation: null,
      },
      ramp: {
        concurrency: { kind: 'list', levels: [1, 2, 4] },
        warmupMs: 5_000,
        stage: { durationMs: 30_000, requests: null },
        drainMs: 60_000,
      },
      slo: [{ kind: 'latency', text: 'p99(ttft) < 1s', stat: 'p99', metric: 'ttft', op: '<', thresholdMs: 1000 }],
      verdict: {
        confidence: 0.95,
        confirmFailures: true,
        maxExtensions: 2,
        bisectResolution: null,
        bisect: true,
        maxEventLoopDelayMs: null,
        minAchievedConcurrency: 0.8,
      },
      stop: { onBreach: true, maxErrorRate: 0.5 },
      limits: { maxDurationMs: 3_600_000, maxRequests: 100_000, maxOutputTokens: 50_000_000 },
      report: { dir: 'reports', headroom: 0.8, efficiencyFraction: 0.9, tiers: [0.25, 0.5, 1, 2], sizing: null },
      workers: 1,
    };
    expect(profile).toEqual(expected);
    expect(profile.request.timeouts).toEqual(DEFAULTS.request.timeouts);
  });

  it('full profile: units to ms, percents to ratios, aliases resolved', async () => {
    const { profile, warnings } = await loadProfile(path.join(GOOD, 'full.yaml'), { env: ENV });
    expect(warnings).toEqual([]);
    expect(profile.name).toBe('full-profile');
    expect(profile.target).toEqual({
      baseUrl: 'http://127.0.0.1:8000/v1',
      model: 'llama-3-8b',
      apiKeyEnv: 'FC_TEST_KEY',
      headers: { 'X-Team': 'search', 'X-Priority': '3' },
      simulator: null,
    });
    expect(profile.request).toEqual({
      payloads: [
        {
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'Explain continuous batching.\n' },
          ],
        },
      ],
      source: 'inline',
      maxTokens: 128,
      temperature: 0.2,
      stream: true,
      extraBody: { top_p: 0.9, seed: 42 },
      seed: 7,
      timeouts: { firstTokenMs: 30_000, idleMs: 15_000, totalMs: 120_000 },
      maxTokensFromDataset: false,
      endpoint: 'chat',
      dataset: null,
      synthetic: null,
      conversation: null,
    });
    expect(profile.ramp).toEqual({
      concurrency: { kind: 'step', start: 2, step: 8, max: 30 },
      warmupMs: 1500,
      stage: { durationMs: 90_000, requests: 500 },
      drainMs: 250,
    });
    expect(profile.slo).toEqual([
      { kind: 'latency', text: 'p99(ttft) < 800ms', stat: 'p99', metric: 'ttft', op: '<', thresholdMs: 800 },
      { kind: 'latency', text: 'p95( e2e )<=20s', stat: 'p95', metric: 'e2e', op: '<=', thresholdMs: 20_000 },
      {
        kind: 'rate',
        text: 'success_rate >= 99.5%',
        metric: 'success_rate',
        errorClass: null,
        op: '>=',
        threshold: 0.995,
      },
      {
        kind: 'rate',
        text: 'error_rate(http_429) < 0.01',
        metric: 'error_rate',
        errorClass: 'http_429',
        op: '<',
        threshold: 0.01,
      },
      { kind: 'throughput', text: 'qps >= 2.5', metric: 'qps', op: '>=', threshold: 2.5 },
      { kind: 'throughput', text: 'output_tps > 100', metric: 'output_tps', op: '>', threshold: 100 },
    ]);
    expect(profile.verdict).toEqual({
      confidence: 0.9,
      confirmFailures: false,
      maxExtensions: 3,
      bisectResolution: 2,
      bisect: true,
      maxEventLoopDelayMs: 40,
      minAchievedConcurrency: 0.7,
    });
    expect(profile.stop).toEqual({ onBreach: false, maxErrorRate: 0.25 });
    expect(profile.limits).toEqual({ maxDurationMs: 7_200_000, maxRequests: 5000, maxOutputTokens: 1_000_000 });
    expect(profile.report).toEqual({
      dir: 'out/reports',
      headroom: 0.75,
      efficiencyFraction: 0.95,
      tiers: [0.5, 1, 3],
      sizing: { peakQps: 40, redundancy: 1, costPerHour: 2.5, currency: 'EUR' },
    });
    expect(profile.workers).toBe(2);
  });

  it('prompts_file: strings, message arrays and {messages} objects; blank lines skipped', async () => {
    const { profile, warnings } = await loadProfile(path.join(GOOD, 'prompts.yaml'), { env: {} });
    expect(profile.name).toBe('prompts-from-a-file');
    expect(warnings.map(formatProblem)).toEqual([
      expect.stringMatching(/prompts\.yaml:1:7 name: is used as "prompts-from-a-file"/),
    ]);
    expect(profile.target.simulator).toEqual({ preset: 'tiny', overrides: { slots: 4, step_base_ms: 5 } });
    expect(profile.request.source).toBe('prompts.jsonl');
    expect(profile.request.maxTokens).toBeNull();
    expect(profile.request.payloads).toEqual([
      { messages: [{ role: 'user', content: 'What is a KV cache?' }] },
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Explain paged attention.' },
        ],
      },
      { messages: [{ role: 'user', content: 'Why does TTFT grow with load?' }] },
    ]);
    expect(profile.ramp.concurrency).toEqual({ kind: 'factor', start: 1, factor: 2, max: 10 });
    expect(profile.ramp.stage).toEqual({ durationMs: null, requests: 200 });
  });

  it('the shipped OpenAI example is valid (given its key variable)', async () => {
    const { profile, warnings } = await loadProfile('profiles/example-openai.yaml', {
      env: { OPENAI_API_KEY: SECRET },
    });
    expect(warnings).toEqual([]);
    expect(profile.target.baseUrl).toBe('https://api.openai.com/v1');
    expect(profile.target.apiKeyEnv).toBe('OPENAI_API_KEY');
  });

  it('accepts text in memory, a BOM, YAML merge keys and top-level x-* keys', async () => {
    const text = `\uFEFFx-stage: &stage {duration: 10s}
${BASE}  stage:
    <<: *stage
    requests: 50
slo: ["p99(ttft) < 1s"]
`;
    const { profile } = await loadProfile(path.join(tmp, 'does-not-exist.yaml'), { text, env: {} });
    expect(profile.ramp.stage).toEqual({ durationMs: 10_000, requests: 50 });
    expect(profile.name).toBe('does-not-exist');
  });
});

describe('loadProfile errors', () => {
  it('throws ONE ProfileError listing every problem, with code invalid_profile', async () => {
    const err = await loadProfile('test/fixtures/profiles/bad/multiple-problems.yaml', { env: {} }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProfileError);
    const pe = err as ProfileError;
    expect(pe.code).toBe('invalid_profile');
    expect(pe.problems.filter((p) => p.severity === 'error')).toHaveLength(5);
    const lines = pe.message.split('\n');
    expect(lines[0]).toBe('5 problems in the profile:');
    expect(lines[1]).toBe(
      'test/fixtures/profiles/bad/multiple-problems.yaml:8:62 request.max_tokens: must be a positive integer, got "lots"',
    );
    expect(lines).toHaveLength(6);
  });

  it('a missing file is an invalid-arguments ToolError', async () => {
    const err = await loadProfile(path.join(tmp, 'nope.yaml')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('invalid_arguments');
    expect((err as ToolError).message).toMatch(/cannot read profile .*nope\.yaml: no such file/);
  });

  it('a 50 MB profile is rejected by size without being read', async () => {
    const file = path.join(tmp, 'huge.yaml');
    await writeFile(file, 'name: huge\n');
    await truncate(file, 50 * 1024 * 1024); // sparse: no 50 MB written to disk
    const err = await loadProfile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProfileError);
    expect((err as ProfileError).message).toMatch(
      /huge\.yaml:1:1 the file is 50\.0 MB; a profile must be at most 1024 KB/,
    );
  });

  it('oversized text is rejected before parsing', async () => {
    const text = 'a: ' + 'x'.repeat(2 * 1024 * 1024);
    expect(await problemsOf(text)).toEqual([expect.stringMatching(/^p\.yaml:1:1 the file is 2\.0 MB/)]);
  });

  it('never echoes secrets: header values, the key value, URL credentials', async () => {
    const text = `target:
  base_url: https://bob:pa55w0rd-${SECRET}@llm.example.com/v1?api_key=${SECRET}
  model: m
  api_key_env: sk-${SECRET}
  headers:
    Authorization: {bearer: ${SECRET}}
    "bad header": Bearer ${SECRET}
request:
  messages: [{role: user, content: hi}]
ramp: {concurrency: [1]}
`;
    const all = (await problemsOf(text)).join('\n');
    expect(all).toContain('target.base_url: must not contain credentials');
    expect(all).toContain('target.api_key_env: must be the NAME of an environment variable');
    expect(all).toContain('target.headers.Authorization: value must be a string');
    expect(all).toContain('target.headers.bad header: is not a valid HTTP header name');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('pa55w0rd');

    const withKey = await problemsOf(
      `target:\n  base_url: http://h/v1\n  model: m\n  api_key_env: FC_TEST_KEY\n  headers: {Authorization: Bearer ${SECRET}}\n${BASE.split('\n').slice(2).join('\n')}`,
    );
    expect(withKey.join('\n')).toContain('target.headers.Authorization: carries a credential in the profile file');
    expect(withKey.join('\n')).not.toContain(SECRET);
  });
});

describe('header values from environment variables', () => {
  const withHeaders = (headers: string) =>
    `target:\n  base_url: http://h/v1\n  model: m\n  headers: ${headers}\n${BASE.split('\n').slice(2).join('\n')}slo: ["p99(ttft) < 1s"]\n`;

  it('{env: NAME} is kept as a reference in the profile; its value is read only when a run starts', async () => {
    const r = await validateProfileText(withHeaders('{api-key: {env: FC_HDR_KEY}, X-Team: capacity}'), 'p.yaml', {
      FC_HDR_KEY: 'value-of-the-key',
    });
    expect(r.problems).toEqual([]);
    expect(r.profile?.target.headers).toEqual({ 'api-key': { env: 'FC_HDR_KEY' }, 'X-Team': 'capacity' });
    expect(JSON.stringify(r.profile)).not.toContain('value-of-the-key');
  });

  it('anything but {env: NAME} is refused; an unset variable is an error for a run, a warning for validate', async () => {
    expect(await problemsOf(withHeaders('{a: {env: "not a name"}, b: {env: X, other: 1}}'), { X: '1' })).toEqual([
      'p.yaml:4:16 target.headers.a: value must be a string, or {env: NAME} to read it from an environment variable',
      'p.yaml:4:40 target.headers.b: value must be a string, or {env: NAME} to read it from an environment variable',
    ]);
    const unset = withHeaders('{api-key: {env: FC_HDR_UNSET}}');
    expect(
      (await validateProfileText(unset, 'p.yaml', {})).problems.map((p) => `${p.severity} ${formatProblem(p)}`),
    ).toEqual([
      'error p.yaml:4:22 target.headers.api-key: environment variable FC_HDR_UNSET is not set; export it before running (e.g. export FC_HDR_UNSET=...)',
    ]);
    const lenient = await validateProfileText(unset, 'p.yaml', {}, false);
    expect(lenient.profile).not.toBeNull();
    expect(lenient.problems.map((p) => `${p.severity} ${formatProblem(p)}`)).toEqual([
      'warning p.yaml:4:22 target.headers.api-key: environment variable FC_HDR_UNSET is not set: the run will refuse to start until it is exported',
    ]);
  });
});

describe('warnings and cross-checks', () => {
  it('warns when a timeout is shorter than a latency SLO threshold on the same metric', async () => {
    const text = `${BASE.replace('request:\n', 'request:\n  timeouts: {first_token: 500ms, total: 5s}\n')}slo:
  - p99(ttft) < 1s
  - p95(e2e) < 10s
  - p99(ttft) > 100ms
`;
    const r = await validateProfileText(text, 'p.yaml', {});
    expect(r.profile).not.toBeNull();
    expect(r.problems.map((p) => `${p.severity} ${formatProblem(p)}`)).toEqual([
      "warning p.yaml:9:5 slo[0]: request.timeouts.first_token (500ms) is shorter than this rule's threshold (1s): slow requests become timeout errors before they can breach it",
      "warning p.yaml:10:5 slo[1]: request.timeouts.total (5s) is shorter than this rule's threshold (10s): slow requests become timeout errors before they can breach it",
    ]);
  });

  it('warns when there are no SLO rules, and on duplicate rules', async () => {
    expect(await problemsOf(BASE)).toEqual([expect.stringContaining('p.yaml:1:1 no slo rules')]);
    expect(await problemsOf(`${BASE}slo: ["p99(ttft) < 1s", "p99(ttft)<1s"]\n`)).toEqual([
      expect.stringContaining('slo[1]: duplicate rule'),
    ]);
  });

  it('a bare `simulator:` is the default preset; a timeout longer than total warns', async () => {
    const text = `target:
  simulator:
request:
  messages: [{role: user, content: hi}]
  timeouts: {first_token: 10m, total: 1m}
ramp: {concurrency: [1]}
slo: ["p99(e2e) < 30s"]
`;
    const r = await validateProfileText(text, 'p.yaml', {});
    expect(r.profile?.target.simulator).toEqual({ preset: 'demo', overrides: {} });
    expect(r.problems.map(formatProblem)).toEqual([
      'p.yaml:5:27 request.timeouts.first_token: 10m is longer than timeouts.total (1m), so it never fires',
    ]);
  });

  it('a wrong-type section does not cascade into its children', async () => {
    const problems = await problemsOf(`${BASE}slo: ["p99(ttft) < 1s"]\nverdict: [1, 2]\nlimits: 5\n`);
    expect(problems).toEqual([
      expect.stringContaining('p.yaml:8:10 verdict: must be a mapping'),
      expect.stringContaining('p.yaml:9:9 limits: must be a mapping'),
    ]);
  });
});
