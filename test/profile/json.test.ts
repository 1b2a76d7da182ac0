// profile.json uses the YAML's snake_case names and reads back to the same Profile (and older camelCase files too).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../src/profile/load.ts';
import { profileFromJson, profileToJson } from '../../src/profile/json.ts';
import { ROOT, tempDir } from '../helpers.ts';

/** Every key outside the subtrees that hold the user's own keys. */
function keysOf(value: unknown, path = ''): string[] {
  if (['target.headers', 'target.simulator.overrides', 'request.extra_body', 'request.payloads'].includes(path))
    return [];
  if (Array.isArray(value)) return value.flatMap((v) => keysOf(v, path));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v, path ? `${path}.${k}` : k)]);
}

const text = `name: keys
target:
  base_url: http://127.0.0.1:9/v1
  model: m
  api_key_env: FC_JSON_KEY
  headers: {X-Team: capacity, api-key: {env: FC_JSON_HEADER}}
request:
  messages: [{role: user, content: hi}]
  max_tokens: 16
  extra_body: {top_p: 0.9, chatTemplateKwargs: {enableThinking: false}}
  timeouts: {first_token: 5s, idle: 2s, total: 10s}
ramp: {concurrency: {start: 1, factor: 2, max: 8}, warmup: 1s, stage: {duration: 2s}, drain: 12s}
slo: ["p99(ttft) < 1s", "error_rate(http_429) < 1%"]
verdict: {max_event_loop_delay: 50ms}
`;

describe('profile.json', () => {
  it('has snake_case keys, keeps the user’s own keys as written, and reads back to the same Profile', async () => {
    const dir = tempDir('fc-json-');
    const env = { FC_JSON_KEY: 'k', FC_JSON_HEADER: 'h' };
    const { profile } = await loadProfile(join(dir, 'p.yaml'), { text, env });
    const json = profileToJson(profile) as Record<string, Record<string, unknown>>;
    expect(keysOf(json).filter((k) => /[A-Z]/.test(k))).toEqual([]);
    expect(json['target']!['api_key_env']).toBe('FC_JSON_KEY');
    expect(json['target']!['headers']).toEqual({ 'X-Team': 'capacity', 'api-key': { env: 'FC_JSON_HEADER' } });
    expect(json['request']!['max_tokens']).toBe(16);
    expect(json['request']!['extra_body']).toEqual({ top_p: 0.9, chatTemplateKwargs: { enableThinking: false } });
    expect(json['ramp']!['warmup_ms']).toBe(1000);
    expect(json['verdict']!['max_event_loop_delay_ms']).toBe(50);
    expect((json['slo'] as unknown as Record<string, unknown>[])[1]).toMatchObject({ error_class: 'http_429' });
    expect(profileFromJson(JSON.parse(JSON.stringify(json)))).toEqual(profile);
  });

  it('an older profile.json in camelCase reads back the same', () => {
    const file = join(ROOT, 'test', 'fixtures', 'runs', 'demo', 'profile.json');
    const old = JSON.parse(readFileSync(file, 'utf8'));
    expect(old.ramp.warmupMs).toBe(300);
    const profile = profileFromJson(old);
    expect(profile).toEqual(old);
    expect(profileFromJson(profileToJson(profile))).toEqual(profile);
  });
});
