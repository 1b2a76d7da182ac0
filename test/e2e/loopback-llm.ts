// A minimal OpenAI-compatible server for loopback tests: streamed chat completions and a profile that targets it.
import type http from 'node:http';

/** A streaming chat completion of `tokens` chunks, 5 ms apart, like an OpenAI-compatible server. */
export function streamCompletion(res: http.ServerResponse, tokens: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }, null));
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < tokens) {
      res.write(chunk({ content: ` t${sent++}` }, null));
      return;
    }
    clearInterval(timer);
    res.write(chunk({}, 'stop'));
    res.end(
      `data: ${JSON.stringify({ id: 'c', choices: [], usage: { prompt_tokens: 3, completion_tokens: tokens, total_tokens: tokens + 3 } })}\n\ndata: [DONE]\n\n`,
    );
  }, 5);
}

/** A profile against `url`; `extra` lines go under target (indented by two spaces). */
export function baseUrlProfile(url: string, extra = '', o: { concurrency?: string; slo?: string[] } = {}): string {
  const slo = o.slo ?? ['p99(ttft) < 2s'];
  return `name: loopback
target:
  base_url: ${url}
  model: m
${extra}
request:
  messages: [{role: user, content: hello}]
  max_tokens: 4
  timeouts: {first_token: 5s, idle: 2s, total: 10s}
ramp:
  concurrency: ${o.concurrency ?? '[1, 2]'}
  warmup: 200ms
  stage: {duration: 1500ms}
  drain: 5s
slo:
${slo.map((r) => `  - ${r}`).join('\n')}
verdict: {max_extensions: 0}
`;
}
