// The pure parts of remote agents: the clock offset estimate and its bound, the exact split of counts over agents,
// the --listen and agent URL syntax, and the profile's agents key.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseListen } from '../../src/cli/agent-command.ts';
import { estimateOffset, type PingSample } from '../../src/load/agent-clock.ts';
import { tokenMatches } from '../../src/load/agent-host.ts';
import { versionMismatch } from '../../src/load/agent-protocol.ts';
import { partWeights, splitExactly } from '../../src/load/stage-split.ts';
import { checkAgentUrl } from '../../src/profile/agents.ts';
import { validateProfileText } from '../../src/profile/load.ts';
import { mulberry32 } from '../../src/util/prng.ts';

/** A ping exchanged with an agent whose clock reads `offset` more, with one-way delays `up` and `down`. */
function ping(t0: number, offset: number, up: number, down: number, hold = 0.05): PingSample {
  const t1 = t0 + up + offset;
  return { t0, t1, t2: t1 + hold, t3: t0 + up + hold + down };
}

describe('clock offset', () => {
  it('is exact with symmetric delays, and its bound is half the round trip', () => {
    const e = estimateOffset([ping(100, 5000, 0.4, 0.4)]);
    expect(e.offsetMs).toBeCloseTo(5000, 9);
    expect(e.rttMs).toBeCloseTo(0.8, 9);
    expect(e.errorBoundMs).toBeCloseTo(0.4, 9);
  });

  it('stays within its bound whatever the split of the round trip, and takes the shortest round trip', () => {
    const rng = mulberry32(5);
    for (let n = 0; n < 500; n++) {
      const offset = (rng() - 0.5) * 1e7;
      const samples = Array.from({ length: 1 + Math.floor(rng() * 6) }, (_, k) =>
        ping(1000 * k, offset, rng() * 20, rng() * 20),
      );
      const e = estimateOffset(samples);
      expect(Math.abs(e.offsetMs - offset)).toBeLessThanOrEqual(e.errorBoundMs + 1e-6);
      const best = Math.min(...samples.map((s) => s.t3 - s.t0 - (s.t2 - s.t1)));
      expect(e.rttMs).toBeCloseTo(best, 6);
    }
  });
});

describe('splitting a stage over agents', () => {
  it.each([
    [100, [1, 1, 1], [34, 33, 33]],
    [100, [2, 1], [67, 33]],
    [2, [1, 1, 1], [1, 1, 0]],
    [7, [3, 0, 2], [4, 0, 3]],
    [0, [1, 1], [0, 0]],
  ])('%i in proportion to %j: %j', (total, weights, expected) => {
    const out = splitExactly(total, weights);
    expect(out).toEqual(expected);
    expect(out.reduce((a, b) => a + b, 0)).toBe(total);
  });

  it('weighs a closed loop by its slots', () => {
    expect(partWeights({ kind: 'closed', concurrency: 7 }, 3)).toEqual([3, 2, 2]);
  });
});

describe('agent addresses', () => {
  it.each([
    ['127.0.0.1:7071', { host: '127.0.0.1', port: 7071 }],
    [':0', { host: '127.0.0.1', port: 0 }],
    ['0.0.0.0', { host: '0.0.0.0', port: 7070 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
  ])('--listen %s', (text, expected) => expect(parseListen(text)).toEqual(expected));

  it('rejects a bad --listen', () => expect(() => parseListen('host:99999')).toThrow(/--listen must be HOST:PORT/));

  it.each([
    ['ws://10.0.0.5:7070', 'ws://10.0.0.5:7070'],
    ['wss://agents.example/a1/', 'wss://agents.example/a1'],
  ])('accepts %s', (raw, url) => expect(checkAgentUrl(raw)).toEqual({ url }));

  it.each([
    ['http://10.0.0.5:7070', /ws or wss/],
    ['ws://user:pw@10.0.0.5:7070', /token comes from FIND_CAPACITY_AGENT_TOKEN/],
    ['ws://10.0.0.5:7070/?token=x', /token comes from/],
    ['not a url', /ws:\/\/ URL/],
  ])('refuses %s', (raw, why) => {
    const r = checkAgentUrl(raw);
    expect('problem' in r && r.problem).toMatch(why);
  });
});

describe('the agents key', () => {
  const base = `target: {simulator: {preset: tiny}}
request: {messages: [{role: user, content: hi}]}
ramp: {concurrency: [1]}
`;
  const check = (extra: string) => validateProfileText(base + extra, join(import.meta.dirname, 'p.yaml'), {});

  it('is a list of agent URLs', async () => {
    const { profile } = await check('agents: [ws://127.0.0.1:7071, ws://127.0.0.1:7072]');
    expect(profile?.agents).toEqual(['ws://127.0.0.1:7071', 'ws://127.0.0.1:7072']);
  });

  it('reports each bad entry at its place, duplicates and workers alongside', async () => {
    const { profile, problems } = await check('workers: 2\nagents: [ws://a:1, http://b:2, ws://a:1]');
    expect(profile).toBeNull();
    const text = problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`);
    expect(text).toEqual([
      expect.stringMatching(/^4:10 workers: cannot be combined with agents/),
      expect.stringMatching(/^5:20 agents\[1\]: must use ws or wss/),
      expect.stringMatching(/^5:32 agents\[2\]: lists ws:\/\/a:1 twice/),
    ]);
  });
});

describe('handshake checks', () => {
  it('compares tokens in full', () => {
    expect(tokenMatches('s3cret-token', 's3cret-token')).toBe(true);
    expect(tokenMatches('s3cret-tokeN', 's3cret-token')).toBe(false);
    expect(tokenMatches('s3cret', 's3cret-token')).toBe(false);
    expect(tokenMatches(undefined, 's3cret-token')).toBe(false);
  });

  it('names both versions when they differ', () => {
    const ours = { protocol: 1, toolVersion: '0.1.0' };
    expect(versionMismatch(ours, { protocol: 1, toolVersion: '0.1.0' }, 'agent x')).toBeNull();
    expect(versionMismatch(ours, { protocol: 2, toolVersion: '0.2.0' }, 'agent x')).toBe(
      'agent x runs find-capacity 0.2.0 (agent protocol 2), this one 0.1.0 (protocol 1): run the same version on the controller and every agent',
    );
  });
});
