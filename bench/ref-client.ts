// The reference floor: the cheapest honest streaming client we can write in Node. Raw node:http with a
// keep-alive agent, utf8 text split into lines, a content chunk recognised by a substring test; no SDK,
// no records, no timers per request. Only what the bench needs to compare: t0 and first-token time per id,
// and a running count of content chunks.
import http from 'node:http';

export interface RefStats {
  /** Content chunks received so far (read by the bench at the window's edges). */
  chunks: number;
  started: number;
  completed: number;
  failed: number;
}

export interface RefTiming {
  id: string;
  /** Run-clock ms. */
  t0: number;
  first: number;
  window: boolean;
}

export interface RefRunOptions {
  baseUrl: string;
  concurrency: number;
  maxTokens: number;
  now: () => number;
  /** Same stagger as the stage runner: worker w starts at spanMs × w / C. */
  spanMs: number;
  /** Run-clock ms: window start and end; no request starts at or after `we`. */
  ws: number;
  we: number;
  idPrefix: string;
  stats: RefStats;
  timings: RefTiming[];
}

const CONTENT = '"content":"';

/**
 * The floor's body handler (utf8 text): splits lines, calls `onContent` for each `data:` line with a non-empty
 * content string (a substring test, no JSON parsing) and `onDone` at `[DONE]`.
 */
export function floorLines(onContent: () => void, onDone: () => void = () => {}): (text: string) => void {
  let buf = '';
  return (text) => {
    buf += text;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl < 0) break;
      if (buf.startsWith('data: ', start)) {
        const c = buf.indexOf(CONTENT, start);
        if (c >= 0 && c < nl && buf.charCodeAt(c + CONTENT.length) !== 34) onContent();
        else if (buf.startsWith('[DONE]', start + 6)) onDone();
      }
      start = nl + 1;
    }
    buf = buf.slice(start);
  };
}

export async function runReference(o: RefRunOptions): Promise<void> {
  const u = new URL(o.baseUrl.replace(/\/+$/, '') + '/chat/completions');
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });
  const body = JSON.stringify({
    model: 'sim-llm',
    messages: [{ role: 'user', content: 'Explain continuous batching in 50 words.' }],
    stream: true,
    max_tokens: o.maxTokens,
    stream_options: { include_usage: true },
  });
  const bodyLength = String(Buffer.byteLength(body));
  let seq = 0;

  const one = (id: string, window: boolean): Promise<void> =>
    new Promise((resolve) => {
      const t0 = o.now();
      let first = -1;
      o.stats.started++;
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': bodyLength,
            authorization: 'Bearer EMPTY',
            'x-request-id': id,
          },
        },
        (res) => {
          res.setEncoding('utf8');
          let done = false;
          res.on(
            'data',
            floorLines(
              () => {
                o.stats.chunks++;
                if (first < 0) first = o.now();
              },
              () => (done = true),
            ),
          );
          res.on('end', () => {
            if (done && first >= 0) {
              o.stats.completed++;
              o.timings.push({ id, t0, first, window });
            } else o.stats.failed++;
            resolve();
          });
          res.on('error', () => {
            o.stats.failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        o.stats.failed++;
        resolve();
      });
      req.end(body);
    });

  const worker = async (w: number): Promise<void> => {
    const startAt = (o.spanMs * w) / o.concurrency;
    await new Promise((r) => setTimeout(r, Math.max(0, startAt - o.now())));
    for (;;) {
      const t = o.now();
      if (t >= o.we) return;
      await one(`${o.idPrefix}-${seq++}`, t >= o.ws);
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < o.concurrency; w++) workers.push(worker(w));
  await Promise.all(workers);
  agent.destroy();
}
