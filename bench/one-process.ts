// What the one-process benches (transport-only.ts, ab.ts) share: the simulator of BENCHMARKS.md's set-up, the
// transport over it as a run builds it, and the floor's bare node:http request.
import http from 'node:http';
import { transportConfig } from '../src/controller/transport-config.ts';
import { createTransport, type Transport } from '../src/load/transport.ts';
import { loadProfile } from '../src/profile/load.ts';
import { startSimulator, type RunningSimulator } from '../src/sim/index.ts';
import { systemClock } from '../src/util/clock.ts';
import { floorLines } from './ref-client.ts';

const PROMPT = 'Explain continuous batching in 50 words.';

/** The simulator in its own process: a 10 ms step, no queue, no prefill, no jitter, `tokens` per answer. */
export function startBenchSimulator(firstTokenDelayMs: number, tokens: number): Promise<RunningSimulator> {
  return startSimulator({
    preset: 'large',
    mode: 'process',
    overrides: {
      slots: 100_000,
      step_base_ms: 10,
      step_per_seq_ms: 0,
      prefill_ms_per_1k_tokens: 0,
      jitter: 0,
      default_max_tokens: tokens,
      first_token_delay_ms: firstTokenDelayMs,
    },
  });
}

/** The transport (fast path) for the same request, its times on the clock of `origin`. */
export async function benchTransport(baseUrl: string, tokens: number, origin: number): Promise<Transport> {
  const text = `target: {base_url: "${baseUrl}", model: sim-llm}
request:
  messages: [{role: user, content: "${PROMPT}"}]
  max_tokens: ${tokens}
  timeouts: {first_token: 20s, idle: 10s, total: 60s}
ramp: {concurrency: [1]}
slo: ["success_rate >= 10%"]
`;
  const { profile } = await loadProfile('bench.yaml', { text, env: {} });
  return createTransport({
    config: transportConfig(profile, baseUrl, 'EMPTY'),
    clock: systemClock(origin),
    redact: (s) => s,
  });
}

/** The floor's request (keep-alive agent, line splitting, no parsing): `onContent` per content chunk. */
export function floorRequester(
  baseUrl: string,
  tokens: number,
  onContent: () => void,
): { request: () => Promise<void>; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });
  const url = new URL(baseUrl + '/chat/completions');
  const body = JSON.stringify({
    model: 'sim-llm',
    messages: [{ role: 'user', content: PROMPT }],
    stream: true,
    max_tokens: tokens,
    stream_options: { include_usage: true },
  });
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  const request = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', floorLines(onContent));
          res.on('end', resolve);
          res.on('error', () => resolve());
        },
      );
      req.on('error', () => resolve());
      req.end(body);
    });
  return { request, close: () => agent.destroy() };
}

/** A record's content chunks received in [from, to), from its first chunk's time and the gaps after it. */
export function chunksWithin(r: { firstContentAt: number | null; gapsMs: number[] }, from: number, to: number): number {
  if (r.firstContentAt === null) return 0;
  let t = r.firstContentAt;
  let n = t >= from && t < to ? 1 : 0;
  for (const g of r.gapsMs) if ((t += g) >= from && t < to) n++;
  return n;
}
