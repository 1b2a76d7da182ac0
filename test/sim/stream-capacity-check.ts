// Manual check (not part of the test run): can the simulator hold N concurrent streams without falling behind
// its own model? Opens N streaming requests at once against a simulator with N slots, so every stream is
// active and gets one token per step, and compares the achieved pace with the model's.
//
//   node bin/run-ts.mjs test/sim/stream-capacity-check.ts [streams=5000] [tokens=100] [step_ms=50] [worker|process]
//
// The client writes raw HTTP on plain sockets (connection: close) and only counts SSE event separators with native
// Buffer searches, so it stays much cheaper than the server it measures (both share this machine's 2 cores).
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { startSimulator } from '../../src/sim/index.ts';

const streams = Number(process.argv[2] ?? 5000);
const tokens = Number(process.argv[3] ?? 100);
const stepMs = Number(process.argv[4] ?? 50);
const mode = (process.argv[5] ?? 'worker') as 'worker' | 'process';

interface StreamStat {
  events: number;
  done: boolean;
  ok: boolean;
  openedAt: number;
  /** First content token received (the second event, after the role chunk). */
  firstTokenAt: number;
  endedAt: number;
}

// SIM_URL=http://127.0.0.1:PORT/v1 measures an already running simulator (e.g. one started under --cpu-prof).
const external = process.env.SIM_URL;
const sim = external
  ? { baseUrl: external, stop: async () => {} }
  : await startSimulator({
      preset: 'large',
      mode,
      overrides: {
        slots: streams,
        step_base_ms: stepMs,
        step_per_seq_ms: 0,
        prefill_ms_per_1k_tokens: 0,
        jitter: 0,
        default_max_tokens: tokens,
      },
    });
const port = Number(new URL(sim.baseUrl).port);
const healthUrl = sim.baseUrl.replace(/\/v1$/, '/health');
const body = JSON.stringify({
  model: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  stream: true,
  max_tokens: tokens,
});
const head =
  `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
  `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
const SEPARATOR = Buffer.from('\n\n');
const DONE = Buffer.from('data: [DONE]');
let open = 0;
let peakOpen = 0;

function openStream(): Promise<StreamStat> {
  return new Promise((resolve) => {
    const stat: StreamStat = {
      events: 0,
      done: false,
      ok: false,
      openedAt: performance.now(),
      firstTokenAt: 0,
      endedAt: 0,
    };
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let counted = false;
    let lastByte = 0;
    const end = () => {
      if (stat.endedAt) return;
      stat.endedAt = performance.now();
      if (counted) open--;
      resolve(stat);
    };
    socket.on('error', end);
    socket.on('close', end);
    socket.on('data', (buf: Buffer) => {
      if (!counted) {
        counted = true;
        open++;
        peakOpen = Math.max(peakOpen, open);
        stat.ok = buf.subarray(0, 12).toString('latin1') === 'HTTP/1.1 200';
      }
      // Count "\n\n" event separators (native Buffer search); one split across reads is caught via lastByte.
      if (lastByte === 10 && buf[0] === 10) stat.events++;
      let i = buf.indexOf(SEPARATOR);
      while (i >= 0) {
        stat.events++;
        i = buf.indexOf(SEPARATOR, i + 2);
      }
      if (stat.events >= 2 && !stat.firstTokenAt) stat.firstTokenAt = performance.now();
      if (buf.includes(DONE)) stat.done = true;
      lastByte = buf[buf.length - 1]!;
    });
    socket.write(head);
  });
}

const t0 = performance.now();
const pending: Promise<StreamStat>[] = [];
// Open in batches of 500 per 20 ms: all within ~0.2 s, without overflowing the listen backlog.
for (let i = 0; i < streams; i++) {
  pending.push(openStream());
  if (i % 500 === 499) await new Promise((r) => setTimeout(r, 20));
}
const opened = performance.now() - t0;
const results = await Promise.all(pending);
const wall = performance.now() - t0;
const health = (await (await fetch(healthUrl)).json()) as Record<string, number>;
await sim.stop();

const expectedEvents = tokens + 3; // role chunk, tokens, finish chunk, [DONE]
const complete = results.filter((r) => r.ok && r.done && r.events === expectedEvents).length;
const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
const pct = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const e2e = sorted(results.map((r) => r.endedAt - r.openedAt));
// Decode time: first token to [DONE] = (tokens - 1) steps in the model; it shows whether the engine kept its pace.
const decode = sorted(results.filter((r) => r.firstTokenAt).map((r) => r.endedAt - r.firstTokenAt));
const modelDecodeMs = (tokens - 1) * stepMs;
console.log(
  JSON.stringify(
    {
      streams,
      tokensPerStream: tokens,
      stepMs,
      mode,
      requestsSentInMs: Math.round(opened),
      peakConcurrentStreams: peakOpen,
      completeAndWellFormed: complete,
      decodeMs: {
        model: modelDecodeMs,
        p50: Math.round(pct(decode, 0.5)),
        p99: Math.round(pct(decode, 0.99)),
        max: Math.round(decode.at(-1)!),
      },
      e2eMsFromConnect: { p50: Math.round(pct(e2e, 0.5)), p99: Math.round(pct(e2e, 0.99)) },
      wallMs: Math.round(wall),
      tokensPerSecond: {
        model: Math.round((streams / stepMs) * 1000),
        achieved: Math.round(((streams * (tokens - 1)) / (pct(decode, 0.5) || 1)) * 1000),
      },
      engine: {
        steps: health.steps,
        meanLateMs: Number(health.meanLateMs?.toFixed(2)),
        maxLateMs: Number(health.maxLateMs?.toFixed(2)),
        resyncs: health.resyncs,
        eventLoopUtilization: health.event_loop_utilization,
      },
      loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
    },
    null,
    2,
  ),
);
process.exit(complete === streams ? 0 : 1);
