// Secrets never leave the process: a run with a unique API key and credential-carrying headers, against
// servers that echo those secrets back in their error texts (the simulator's fault messages, and a 401/400
// server that dumps the request headers, which the openai SDK puts in its error messages), and then a
// search of every byte the run produced: all files of the run directory, stdout and stderr.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type ExpectStatic } from 'vitest';
import { REDACTED } from '../../src/util/secrets.ts';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { startSimulator } from '../../src/sim/index.ts';
import { runCli, tempDir, writeProfile, type CliResult } from '../helpers.ts';
import { loopbackServer, onlyRunDir, readJsonlStrict, runDirsIn, type Rec } from '../reliability/helpers.ts';

function secretsFor(tag: string) {
  return {
    key: `sk-test-${tag}`,
    proxyToken: `pxtok${tag}`,
    xApiKey: `xak${tag}`,
    cookie: `ck${tag}`,
    apim: `apim${tag}`,
  };
}
type Secrets = ReturnType<typeof secretsFor>;

const headersYaml = (s: Secrets) => `  api_key_env: FC_SECRET_TEST_KEY
  headers:
    Proxy-Authorization: "Bearer ${s.proxyToken}"
    x-api-key: "${s.xApiKey}"
    Cookie: "session=${s.cookie}; theme=dark"
    Ocp-Apim-Subscription-Key: "${s.apim}"
    X-Team: capacity-review
`;

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Fails naming the place and the secret, for every secret (and its tell-tale core) found in any output. */
function expectNoSecrets(expect: ExpectStatic, s: Secrets, outputs: { name: string; text: string }[]): void {
  const needles = Object.entries(s).flatMap(([what, v]) => [
    [what, v] as const,
    [`${what} (core)`, v.slice(-16)] as const,
  ]);
  const found: string[] = [];
  for (const { name, text } of outputs)
    for (const [what, v] of needles) if (text.includes(v)) found.push(`${what} in ${name}`);
  expect(found).toEqual([]);
}

function runOutputs(out: string, r: CliResult): { name: string; text: string }[] {
  return [
    ...filesUnder(out).map((f) => ({ name: f, text: readFileSync(f, 'latin1') })),
    { name: 'stdout', text: r.stdout },
    { name: 'stderr', text: r.stderr },
  ];
}

// Concurrent: each test is mostly the CLI's start-up, which overlaps well.
describe.concurrent('secrets never leak', () => {
  it('a run against a simulator that echoes the key and headers in its fault messages', async ({ expect }) => {
    const s = secretsFor(randomBytes(8).toString('hex'));
    const echo = `denied: Authorization: Bearer ${s.key} / raw ${s.key} / x-api-key ${s.xApiKey} / cookie session=${s.cookie} / proxy ${s.proxyToken} / apim ${s.apim}`;
    const sim = await startSimulator({
      preset: 'tiny',
      mode: 'process',
      overrides: {
        slots: 8,
        step_base_ms: 5,
        step_per_seq_ms: 0,
        jitter: 0,
        seed: 2,
        error_message: echo,
        http_500: 0.1,
        http_503: 0.05,
        http_429: 0.05,
        error_event: 0.1,
        reset_mid_stream: 0.05,
        malformed_chunk: 0.05,
      },
    });
    const dir = tempDir('fc-secrets-');
    // A non-secret query parameter (Azure's api-version) must survive; a secret one is refused (next test).
    const file = writeProfile(
      dir,
      'p.yaml',
      `name: secrets
target:
  base_url: "${sim.baseUrl}?api-version=2024-06-01"
  model: sim-llm
${headersYaml(s)}request:
  messages: [{role: user, content: hi}]
  max_tokens: 10
  timeouts: {first_token: 5s, idle: 2s, total: 10s}
ramp: {concurrency: [2, 4], warmup: 200ms, stage: {duration: 1s}, drain: 5s}
slo: ["success_rate >= 10%"]
verdict: {confirm_failures: false, bisect: false, max_extensions: 0, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}
stop: {max_error_rate: 100%}
`,
    );
    const out = join(dir, 'out');
    let r: CliResult;
    try {
      r = await runCli([file, '--out', out], { env: { FC_SECRET_TEST_KEY: s.key } });
    } finally {
      await sim.stop();
    }
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stderr).toBe(5);
    const runDir = onlyRunDir(out);
    const records = readJsonlStrict<Rec>(join(runDir, 'requests.jsonl')).rows;
    // The query string did not break the request URL, and the echoing failures really happened.
    expect(records.filter((x) => x.ok).length).toBeGreaterThan(0);
    const echoed = records.filter((x) => x.error?.startsWith('500 ') || x.errorClass === 'stream_error_event');
    expect(echoed.length).toBeGreaterThan(0);
    for (const x of echoed) expect(x.error).toContain(REDACTED);
    expectNoSecrets(expect, s, runOutputs(out, r));
  });

  it('SDK error messages (401/400 from a server that dumps the request headers) are redacted too', async ({
    expect,
  }) => {
    const s = secretsFor(randomBytes(8).toString('hex'));
    let n = 0;
    const server = await loopbackServer((req, res) => {
      const dump = `unauthorized ${req.method} ${req.url} headers=${JSON.stringify(req.headers)}`;
      if (n++ % 2 === 0) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: dump, type: 'invalid_request_error', code: 'invalid_api_key' } }));
      } else {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(dump);
      }
    });
    const dir = tempDir('fc-secrets401-');
    const file = writeProfile(
      dir,
      'p.yaml',
      `name: secrets401
target:
  base_url: "${server.url}?api-version=2024-06-01"
  model: m
${headersYaml(s)}request:
  messages: [{role: user, content: hi}]
ramp: {concurrency: [1, 2], warmup: 100ms, stage: {duration: 1s}}
slo: ["success_rate >= 90%"]
verdict: {confirm_failures: false, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}
`,
    );
    const out = join(dir, 'out');
    let r: CliResult;
    try {
      r = await runCli([file, '--out', out], { env: { FC_SECRET_TEST_KEY: s.key } });
    } finally {
      await server.close();
    }
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stderr).toBe(4);
    // The secrets were really sent (so the server really echoed them), to the right path. (The /metrics probe
    // comes first: it got the credentials only after this server's 401, and nothing it said may leak them either.)
    const first = server.requests().find((q) => q.url?.startsWith('/v1/'))!;
    expect(first.url).toBe('/v1/chat/completions?api-version=2024-06-01');
    expect(first.headers.authorization).toBe(`Bearer ${s.key}`);
    expect(first.headers['x-api-key']).toBe(s.xApiKey);
    expect(first.headers.cookie).toBe(`session=${s.cookie}; theme=dark`);
    const records = readJsonlStrict<Rec>(join(onlyRunDir(out), 'requests.jsonl')).rows;
    expect(records.length).toBeGreaterThan(0);
    for (const x of records) {
      expect(x.errorClass).toBe('http_4xx');
      expect(x.error).toContain(REDACTED);
    }
    expectNoSecrets(expect, s, runOutputs(out, r));
  });

  it('a key in the base_url query string is refused before anything is sent, without echoing it', async ({
    expect,
  }) => {
    const s = secretsFor(randomBytes(8).toString('hex'));
    const server = await loopbackServer();
    const dir = tempDir('fc-secretsq-');
    const file = writeProfile(
      dir,
      'p.yaml',
      `target:\n  base_url: "${server.url}?api_key=${s.key}&api-version=1"\n  model: m\nrequest:\n  messages: [{role: user, content: hi}]\nramp: {concurrency: [1]}\nslo: ["success_rate >= 90%"]\n`,
    );
    const out = join(dir, 'out');
    let r: CliResult;
    try {
      r = await runCli([file, '--out', out]);
    } finally {
      await server.close();
    }
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/p\.yaml:2:\d+ target\.base_url: must not carry a key or token in its query string/);
    expect(server.connections()).toBe(0);
    expect(runDirsIn(out)).toEqual([]);
    expectNoSecrets(expect, s, [
      { name: 'stdout', text: r.stdout },
      { name: 'stderr', text: r.stderr },
    ]);
  });

  // Only credential headers are redacted: a harmless `Content-Type: application/json` must not blank the report's
  // `<script type="application/json">` data blocks, nor `X-Team` values in summary.json.
  it('non-secret header values do not corrupt summary.json or report.html', async ({ expect }) => {
    const dir = tempDir('fc-secrets-plain-');
    const text = `name: plainheaders
target:
  simulator: {preset: tiny, slots: 4}
  headers: {Content-Type: application/json, X-Team: capacity-review}
request:
  messages: [{role: user, content: hi}]
  max_tokens: 5
ramp: {concurrency: [1], warmup: 100ms, stage: {duration: 500ms}}
slo: ["success_rate >= 10%"]
verdict: {confirm_failures: false, max_event_loop_delay: 10s, min_achieved_concurrency: 0%}
`;
    const { profile } = await loadProfile(join(dir, 'p.yaml'), { text, env: {} });
    const result = await runCapacitySearch({ profile, env: {}, outDir: join(dir, 'out') });
    const summary = JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8'));
    expect(summary.profile.target.headers['X-Team']).toBe('capacity-review');
    expect(readFileSync(join(result.runDir, 'report.html'), 'utf8')).toContain('<script type="application/json"');
  });
});
