// What goes on the wire to prove who the tool is, read from the raw bytes a loopback server receives: no
// Authorization header at all without a key (the SDK would send "Bearer EMPTY"), a header read from an environment
// variable (Azure's api-key), and that value kept out of every file and every line printed. Also: only credentials
// are redacted on the terminal, and `validate`, which sends nothing, does not need the key.
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentials } from '../../src/controller/target.ts';
import { transportConfig } from '../../src/controller/transport-config.ts';
import { createTransport } from '../../src/load/transport.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { systemClock } from '../../src/util/clock.ts';
import { runCli, tempDir, writeProfile } from '../helpers.ts';
import { onlyRunDir } from '../reliability/helpers.ts';

const SSE =
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n' +
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n' +
  'data: [DONE]\n\n';

/** An OpenAI-compatible endpoint on 127.0.0.1 that keeps every byte it receives. */
let server: http.Server;
let url = '';
/** Every byte received since the last `startCapture()` (requests go one at a time, so none interleave). */
let wire = '';
const startCapture = () => (wire = '');
const requestHeads = () => [...wire.matchAll(/POST [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/g)].map((m) => m[0]);

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(SSE);
    });
  });
  server.on('connection', (s: net.Socket) => s.on('data', (d: Buffer) => (wire += d.toString('latin1'))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const AZURE_KEY = 'azk-0123456789abcdef-credentials-test';
const API_KEY = 'sk-credentials-test-9876543210';

const profileText = (target: string) => `target:
  base_url: "${url}"
  model: m
${target}request:
  messages: [{role: user, content: hi}]
  max_tokens: 4
  timeouts: {first_token: 2s, idle: 2s, total: 5s}
ramp: {concurrency: [1], warmup: 100ms, stage: {requests: 20, duration: 5s}}
slo: ["p99(e2e) < 5s"]
verdict: {max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}
`;

/** Sends one request per transport path and returns the head of each as received. */
async function sentHeads(target: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const dir = tempDir('fc-cred-');
  const { profile } = await loadProfile(join(dir, 'p.yaml'), { text: profileText(target), env });
  const creds = readCredentials(profile, env);
  const heads: string[] = [];
  for (const path of ['fast', 'sdk'] as const) {
    startCapture();
    const config = transportConfig(profile, url, creds.apiKey, creds.headers);
    const transport = createTransport({ config, clock: systemClock(), redact: (s) => s, path });
    try {
      const rec = await transport.send({ id: `r-${path}`, payload: 0, stage: 0, phase: 'window', worker: 0, t0: 0 });
      expect(rec.ok, `${path}: ${rec.error}`).toBe(true);
    } finally {
      transport.close();
    }
    const [head] = requestHeads();
    expect(head, path).toContain(`x-request-id: r-${path}`);
    heads.push(head!);
  }
  return heads;
}

describe('credentials on the wire (raw bytes, both transport paths)', () => {
  it('without api_key_env: no Authorization header at all (never "Bearer EMPTY")', async () => {
    for (const head of await sentHeads('  headers: {X-Team: capacity}\n', { OPENAI_API_KEY: 'sk-not-for-you-0000' })) {
      expect(head).not.toMatch(/^authorization:/im);
      expect(head).not.toMatch(/Bearer|EMPTY|sk-not-for-you/);
      expect(head).toMatch(/^x-team: capacity$/im);
    }
  });

  it('with api_key_env: Authorization: Bearer <key>', async () => {
    const heads = await sentHeads('  api_key_env: FC_CRED_KEY\n', { FC_CRED_KEY: API_KEY });
    for (const head of heads) expect(head).toMatch(new RegExp(`^authorization: Bearer ${API_KEY}$`, 'im'));
  });

  it('a header read from an environment variable (Azure: api-key), with no Authorization', async () => {
    const heads = await sentHeads('  headers: {api-key: {env: FC_AZURE_KEY}}\n', { FC_AZURE_KEY: AZURE_KEY });
    for (const head of heads) {
      expect(head).toMatch(new RegExp(`^api-key: ${AZURE_KEY}$`, 'im'));
      expect(head).not.toMatch(/^authorization:/im);
    }
  });
});

describe('a run with a header from the environment and a harmless header', () => {
  it('sends the value, stores only {env: NAME}, prints and writes the secret nowhere, and shows "X-Team: capacity"', async () => {
    const dir = tempDir('fc-cred-run-');
    const file = writeProfile(
      dir,
      'azure.yaml',
      profileText('  headers: {api-key: {env: FC_AZURE_TEST_KEY}, X-Team: capacity}\n'),
    );
    startCapture();
    const r = await runCli([file, '--out', dir], { env: { FC_AZURE_TEST_KEY: AZURE_KEY } });
    expect(r.code, r.stderr).toBe(5);
    const heads = requestHeads();
    expect(heads.length).toBeGreaterThanOrEqual(20);
    for (const head of heads) {
      expect(head).toMatch(new RegExp(`^api-key: ${AZURE_KEY}$`, 'im'));
      expect(head).not.toMatch(/^authorization:/im);
    }
    // Only credentials are redacted: the stop line's word "capacity" is not the X-Team header's value.
    expect(r.stdout).toContain('every level up to the maximum 1 passed: capacity is at least 1');
    expect(r.stdout + r.stderr).not.toContain('[REDACTED]');
    const runDir = onlyRunDir(dir);
    const profileJson = JSON.parse(readFileSync(join(runDir, 'profile.json'), 'utf8'));
    expect(profileJson.target.headers['api-key']).toEqual({ env: 'FC_AZURE_TEST_KEY' });
    expect(profileJson.target.headers['X-Team']).toBe('capacity');
    for (const f of readdirSync(runDir)) expect(readFileSync(join(runDir, f), 'utf8'), f).not.toContain(AZURE_KEY);
    expect(r.stdout + r.stderr).not.toContain(AZURE_KEY);
  });
});

describe('validate sends nothing, so it does not need the key', () => {
  it('warns about each unset variable and exits 0; the run itself refuses to start (exit 2), sending nothing', async () => {
    const dir = tempDir('fc-cred-val-');
    const file = writeProfile(
      dir,
      'p.yaml',
      profileText('  api_key_env: FC_CRED_UNSET_KEY\n  headers: {api-key: {env: FC_CRED_UNSET_HEADER}}\n'),
    );
    const env = { FC_CRED_UNSET_KEY: undefined, FC_CRED_UNSET_HEADER: undefined };
    startCapture();
    for (const args of [
      ['validate', file],
      [file, '--dry-run'],
    ]) {
      const v = await runCli(args, { env });
      expect(v.code, v.stderr).toBe(0);
      expect(v.stderr).toMatch(/warning: .*target\.api_key_env: environment variable FC_CRED_UNSET_KEY is not set/);
      expect(v.stderr).toMatch(
        /warning: .*target\.headers\.api-key: environment variable FC_CRED_UNSET_HEADER is not set/,
      );
      expect(v.stdout).toMatch(/API key from \$FC_CRED_UNSET_KEY/);
    }
    const run = await runCli([file, '--out', dir], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/target\.api_key_env: environment variable FC_CRED_UNSET_KEY is not set/);
    expect(run.stderr).toMatch(/target\.headers\.api-key: environment variable FC_CRED_UNSET_HEADER is not set/);
    expect(wire).toBe('');
  });
});
