// The report's traffic section: TTFT next to TTFO for reasoning, TTFT by turn for conversations, a warning when a
// server stopped early; shown only when a run has them (a summary.json from before has none of these fields).
import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/report/html.ts';
import { finalReport } from '../../src/report/terminal.ts';
import { trafficLines, trafficSection } from '../../src/report/traffic.ts';
import { fixtureSummary } from './helpers.ts';

const dist = (p50: number, p99: number, count = 50) => ({ count, avg: p50, p50, p90: p99, p95: p99, p99, max: p99 });

describe('the traffic section', () => {
  it('is empty for a run without reasoning, turns or early stops, also for a summary.json from before them', () => {
    const old = fixtureSummary();
    expect('ttfo_ms' in old.stages[0]!).toBe(false);
    expect(trafficSection(old)).toBe('');
    expect(trafficLines(old)).toEqual([]);
    const plain = structuredClone(old);
    for (const st of plain.stages)
      Object.assign(st, {
        ttfo_ms: st.ttft_ms,
        ttft_first_turn_ms: st.ttft_ms,
        ttft_later_turns_ms: dist(0, 0, 0),
        prompt_tokens_avg: 12,
        cached_tokens_avg: null,
        reasoning_tokens_avg: null,
        output_tokens_short: 0,
      });
    expect(trafficSection(plain)).toBe('');
    expect(renderReportHtml(plain)).not.toContain('id="ttfo"');
  });

  it('shows TTFT and TTFO, TTFT by turn, and warns of early stops, in the HTML and the terminal', () => {
    const s = structuredClone(fixtureSummary());
    const [a, b] = s.stages;
    Object.assign(a!, {
      ttft_ms: dist(40, 90),
      ttfo_ms: dist(240, 310),
      ttft_first_turn_ms: dist(300, 400, 20),
      ttft_later_turns_ms: dist(30, 60, 40),
      prompt_tokens_avg: 1500,
      cached_tokens_avg: 1100,
      reasoning_tokens_avg: 8,
      output_tokens_short: 3,
    });
    Object.assign(b!, { output_tokens_short: 2 });
    const html = renderReportHtml(s);
    const section = html.split('id="ttfo"')[1]!;
    expect(section).toContain('<td class="num">240 ms</td><td class="num">310 ms</td>');
    expect(section).toContain('<td class="num">8.0</td>');
    const turns = html.split('id="turns"')[1]!;
    expect(turns).toContain('<td class="num">300 ms</td><td class="num">400 ms</td><td class="num">20</td>');
    expect(turns).toContain('<td class="num">30.0 ms</td><td class="num">60.0 ms</td><td class="num">40</td>');
    expect(html).toMatch(/id="short-output"><strong>5 successful requests received fewer output tokens than asked for/);
    const text = finalReport(s, '/tmp/run');
    expect(text).toContain(`stage ${a!.index} (${a!.concurrency}): TTFT p99 90.0 ms, TTFO p99 310 ms`);
    expect(text).toContain('TTFT p50 first turns 300 ms (20), later turns 30.0 ms (40)');
    expect(text).toContain('Warning: 5 successful requests received fewer output tokens than asked for');
  });
});
