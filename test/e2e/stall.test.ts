// Coordinated omission, shown: the same server with the same 1 s stall, measured by a closed loop and by an open
// loop. The closed loop stops sending while its requests hang, so only its few in-flight requests see the stall and
// its p99 stays small; the open loop keeps the arrivals coming, and every request that arrived during the stall
// waited: its p90 and p99 show the queueing delay a user at that rate sees.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { tempDir, writeProfile } from '../helpers.ts';

const SERVICE_MS = 10;
const STALL_AFTER_MS = 1500;
const STALL_MS = 1000;

const chunk = (delta: Record<string, string>, finish: string | null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

/**
 * A streaming chat server that answers each request SERVICE_MS after it arrives, except that it freezes for STALL_MS
 * from STALL_AFTER_MS after its first request: whatever falls due meanwhile is answered when the stall ends.
 */
function stallingServer(): Promise<{ server: Server; baseUrl: string }> {
  let first: number | null = null;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"m"}]}');
      return;
    }
    req.resume();
    req.on('end', () => {
      const now = performance.now();
      first ??= now;
      const stallStart = first + STALL_AFTER_MS;
      const stallEnd = stallStart + STALL_MS;
      let due = now + SERVICE_MS;
      if (due >= stallStart && now < stallEnd) due = Math.max(due, stallEnd);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: '' }, null));
      setTimeout(
        () => {
          res.write(chunk({ content: 'hi' }, null));
          res.write(chunk({}, 'stop'));
          res.end('data: [DONE]\n\n');
        },
        Math.max(0, due - performance.now()),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` }),
    ),
  );
}

async function measure(ramp: string) {
  const { server, baseUrl } = await stallingServer();
  try {
    const dir = tempDir('fc-stall-');
    const file = writeProfile(
      dir,
      'p.yaml',
      `name: stall
target: {base_url: "${baseUrl}", model: m}
request:
  messages: [{role: user, content: hi}]
  timeouts: {first_token: 10s, idle: 10s, total: 10s}
ramp:
${ramp}
  warmup: 500ms
  stage: {duration: 4s}
  drain: 5s
slo: ["p99(ttft) < 10s"]
verdict: {max_extensions: 0, max_event_loop_delay: 1s}
`,
    );
    const { profile } = await loadProfile(file, { env: {} });
    const result = await runCapacitySearch({ profile, env: {}, outDir: dir });
    expect(result.summary.stages).toHaveLength(1);
    return result.summary.stages[0]!;
  } finally {
    server.close();
  }
}

describe('the same injected stall under a closed and an open loop', () => {
  it('the closed loop hides the queueing delay that the open loop shows', async () => {
    const closed = await measure('  concurrency: [2]');
    const open = await measure('  rate: [100]\n  arrival: constant');
    // Both saw the stall: their slowest request waited about a second.
    expect(closed.ttft_ms.max!).toBeGreaterThan(0.8 * STALL_MS);
    expect(open.ttft_ms.max!).toBeGreaterThan(0.8 * STALL_MS);
    // The closed loop sent nothing while its 2 requests hung: 2 slow requests among hundreds, under its p99.
    expect(closed.requests).toBeGreaterThan(250);
    expect(closed.ttft_ms.p99!).toBeLessThan(0.5 * STALL_MS);
    // The open loop kept sending 100 per second: the ~100 arrivals of the stall waited up to a second each.
    expect(open.requests).toBeGreaterThanOrEqual(395);
    expect(open.ttft_ms.p90!).toBeGreaterThan(0.4 * STALL_MS);
    expect(open.ttft_ms.p99!).toBeGreaterThan(0.8 * STALL_MS);
    // It is the server's queue, not the generator: the send lag stayed small, the server-side TTFT shows the wait.
    expect(open.send_lag_ms.p50!).toBeLessThan(50);
    expect(open.service_ttft_ms.p99!).toBeGreaterThan(0.8 * STALL_MS);
  }, 60_000);
});
