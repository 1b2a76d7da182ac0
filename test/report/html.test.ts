// report.html as a string: escaping, CSP, the SLA table's choice of stages, the size bound.
import { describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  compactJson,
  esc,
  renderReportHtml,
  scriptJson,
  slaColumns,
  slaStage,
} from '../../src/report/html.ts';
import type { StageJson, SummaryJson } from '../../src/report/summary.ts';
import { headline } from '../../src/report/terminal.ts';
import { fixtureSummary, syntheticSummary } from './helpers.ts';

const SCRIPT = '<script>window.__pwned=1</script>';
const IMG = '<img src=x onerror="window.__pwned=2">';
const HOSTILE = `boom ${SCRIPT} ${IMG} </script><!-- \u2028 & 'q'`;

function hostileSummary(): SummaryJson {
  const s = structuredClone(fixtureSummary());
  s.name = `run ${SCRIPT}`;
  s.target.model = `model ${IMG}`;
  s.target.base_url = `http://h/v1?x=${SCRIPT}`;
  s.target.simulator = { preset: 'tiny', overrides: { error_message: HOSTILE } };
  s.profile.target.simulator = { preset: 'tiny', overrides: { error_message: HOSTILE } };
  s.profile.target.headers = { [`x-${SCRIPT}`]: 'v' };
  s.profile.request.payloads = [{ messages: [{ role: 'user', content: HOSTILE }] }];
  s.capacity.stop_detail = `detail ${HOSTILE}`;
  s.efficiency_knee.explanation = `eff ${HOSTILE}`;
  s.slo = [...s.slo, `p99(ttft) < 1s ${SCRIPT}`];
  const st = s.stages[0]!;
  st.reasons = [...st.reasons, `server said: ${HOSTILE}`];
  st.errors = { ...st.errors, [`http_5xx ${IMG}`]: 1 } as StageJson['errors'];
  st.health.problems = [HOSTILE];
  st.stopped_by = HOSTILE;
  return s;
}

function scriptBlocks(html: string): { attrs: string; body: string }[] {
  return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)].map((m) => ({ attrs: m[1]!, body: m[2]! }));
}

describe('renderReportHtml', () => {
  const summary = fixtureSummary();
  const html = renderReportHtml(summary);

  it('states the same one-sentence answer as the terminal, then the stop reason', () => {
    expect(html).toContain(
      `<p class="headline" id="headline" data-capacity="${summary.capacity.concurrency}">${esc(headline(summary))}</p>`,
    );
    expect(html).toContain(`Stopped: <code>${summary.capacity.stop_reason}</code>`);
    expect(html.indexOf('id="headline"')).toBeLessThan(html.indexOf('id="sla"'));
  });

  it('has a CSP that forbids network and references no external resource', () => {
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'none'/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/script-src 'none'/);
    const head = html.slice(0, html.indexOf('</head>'));
    // The policy comes before anything that could load.
    expect(head.indexOf('http-equiv="Content-Security-Policy"')).toBeGreaterThan(0);
    expect(head.indexOf('http-equiv="Content-Security-Policy"')).toBeLessThan(head.indexOf('<style>'));
    expect(html).not.toMatch(/\s(src|srcset|poster|action|formaction|xlink:href)=/i);
    for (const m of html.matchAll(/\shref="([^"]*)"/g)) expect(m[1]).toMatch(/^#/);
    expect(html).not.toMatch(/@import|url\(/i);
    // Only data blocks: nothing executable.
    for (const b of scriptBlocks(html)) expect(b.attrs).toMatch(/type="application\/json"/);
  });

  it('embeds the summary and the Vega-Lite specs as JSON that parses back', () => {
    const [sum, specs] = scriptBlocks(html);
    expect(sum).toBeDefined();
    expect(JSON.parse(sum!.body).capacity).toEqual(summary.capacity);
    expect((JSON.parse(specs!.body) as { id: string }[]).map((x) => x.id)).toEqual([
      'throughput',
      'ttft',
      'latency',
      'errors',
    ]);
  });

  it('has one pre-rendered SVG chart per spec, each with data points carrying tooltips', () => {
    const figures = [...html.matchAll(/<figure class="chart" id="chart-(\w+)"[\s\S]*?<\/figure>/g)];
    expect(figures.map((f) => f[1])).toEqual(['throughput', 'ttft', 'latency', 'errors']);
    for (const f of figures) {
      expect(f[0]).toMatch(/<svg [^>]*class="marks"/);
      expect(f[0]).toMatch(/role="graphics-symbol" aria-roledescription="point"[^>]*><title>Stage \d+ \(/);
    }
  });

  it('has the stage table with every stage and its reasons, run details and the metric definitions', () => {
    for (const st of summary.stages) {
      expect(html).toContain(`id="stage-${st.index}"`);
      for (const r of st.reasons) expect(html).toContain(`<li>${esc(r)}</li>`);
    }
    expect(html).toContain(esc(summary.target.base_url));
    expect(html).toContain(esc(summary.environment.node));
    expect(html).toContain('Closed-loop caveat (coordinated omission)');
    expect(html).toContain('<dt>TTFT</dt>');
    expect(html).toContain('@media print');
  });

  it('escapes every string that comes from the server or the profile', () => {
    const out = renderReportHtml(hostileSummary());
    // Booleans, so a failure does not print the whole report.
    expect(out.includes(SCRIPT)).toBe(false);
    expect(out.includes('<img')).toBe(false);
    expect(/<script>/i.test(out)).toBe(false);
    expect(out.includes('<!--')).toBe(false);
    const blocks = scriptBlocks(out);
    expect(blocks.map((b) => b.attrs)).toEqual([
      ' type="application/json" id="fc-summary"',
      ' type="application/json" id="fc-vega-lite-specs"',
    ]);
    for (const b of blocks) expect(/[<>&\u2028\u2029]/.test(b.body)).toBe(false);
    // The hostile text survives intact as data and as visible (escaped) text.
    const embedded = JSON.parse(blocks[0]!.body) as SummaryJson;
    expect(embedded.target.simulator?.overrides['error_message']).toBe(HOSTILE);
    expect(embedded.stages[0]!.reasons).toContain(`server said: ${HOSTILE}`);
    expect(out.includes(esc(`server said: ${HOSTILE}`))).toBe(true);
    expect(out.includes(esc(`model ${IMG}`))).toBe(true);
  });

  it('says clearly when the capacity is the endpoint rate limit', () => {
    const s = structuredClone(summary);
    s.capacity.stop_reason = 'rate_limited';
    const out = renderReportHtml(s);
    expect(out).toContain("the capacity found is the endpoint's rate limit, not the engine's capacity");
    expect(html).not.toContain('id="rate-limited"');
  });

  it('renders a run without capacity and a run without any stage', () => {
    const none = structuredClone(summary);
    none.capacity = {
      ...none.capacity,
      concurrency: null,
      bracket: null,
      at_capacity: null,
      stop_reason: 'failed_at_first_stage',
    };
    const out = renderReportHtml(none);
    expect(out).toContain('data-capacity="none"');
    expect(out).toContain('No SLA can be recommended');
    const empty = structuredClone(none);
    empty.stages = [];
    const out2 = renderReportHtml(empty);
    expect(out2).toContain('No stage was measured');
    expect(out2).not.toContain('<svg');
  });

  it('a 30-stage run renders to a file under 1.5 MB', () => {
    const s = syntheticSummary(30);
    const bytes = Buffer.byteLength(renderReportHtml(s));
    console.log(`report.html of a synthetic 30-stage run: ${(bytes / 1024).toFixed(0)} KB`);
    expect(s.stages).toHaveLength(30);
    expect(bytes).toBeLessThan(1.5 * 1024 * 1024);
  });
});

describe('scriptJson', () => {
  it.each([['</script><script>alert(1)</script>'], ['<!-- <script>'], ['a\u2028b\u2029c'], ['&amp; > <']])(
    '%j cannot end or confuse a <script> data block and parses back',
    (text) => {
      const out = scriptJson({ text });
      expect(out).not.toMatch(/[<>&\u2028\u2029]/);
      expect(JSON.parse(out)).toEqual({ text });
    },
  );
});

describe('SLA recommendation', () => {
  const st = (index: number, concurrency: number, verdict: StageJson['verdict'], requests = 10): StageJson => ({
    ...fixtureSummary().stages[0]!,
    index,
    concurrency,
    verdict,
    requests,
  });

  it.each([
    ['exact concurrency', [st(0, 4, 'PASS'), st(1, 8, 'PASS')], 8, 1],
    ['nearest below', [st(0, 4, 'PASS'), st(1, 8, 'PASS'), st(2, 12, 'FAIL')], 10, 1],
    ['prefers a PASS at the same concurrency', [st(0, 8, 'PASS'), st(1, 8, 'INCONCLUSIVE')], 8, 0],
    ['latest PASS when several', [st(0, 8, 'PASS'), st(1, 8, 'PASS')], 8, 1],
    ['skips INVALID stages', [st(0, 4, 'PASS'), st(1, 8, 'INVALID')], 8, 0],
    ['skips stages without requests', [st(0, 4, 'PASS'), st(1, 8, 'PASS', 0)], 8, 0],
    ['none at or below', [st(0, 8, 'PASS')], 4, null],
  ] satisfies [string, StageJson[], number, number | null][])('%s', (_name, stages, c, expected) => {
    expect(slaStage(stages, c)?.index ?? null).toBe(expected);
  });

  it('uses the capacity and floor(headroom × capacity)', () => {
    const s = structuredClone(fixtureSummary());
    s.capacity.concurrency = 4;
    s.profile.report.headroom = 0.8;
    const { columns } = slaColumns(s);
    expect(columns.map((c) => [c.concurrency, c.stage?.concurrency])).toEqual([
      [4, 4],
      [3, 2],
    ]);
    s.profile.report.headroom = 0.5;
    expect(slaColumns(s).columns.map((c) => c.concurrency)).toEqual([4, 2]);
  });

  it('titles each column with the concurrency its numbers were measured at', () => {
    const s = structuredClone(fixtureSummary());
    s.profile.report.headroom = 0.8;
    expect(slaColumns(s).columns.map((c) => c.title)).toEqual([
      'At capacity (4 concurrent)',
      'At 80% headroom (2 concurrent, the tested level nearest below 3)',
    ]);
    const html = renderReportHtml(s);
    expect(html).not.toContain('(3 concurrent)');
    const sla = html.slice(
      html.indexOf('<table class="sla">'),
      html.indexOf('</table>', html.indexOf('<table class="sla">')),
    );
    expect(sla).toMatch(
      /Concurrent requests \(measured at\)<\/th><td><strong>4<\/strong><\/td><td><strong>2<\/strong>/,
    );
    s.profile.report.headroom = 0.5;
    expect(slaColumns(s).columns[1]!.title).toBe('At 50% headroom (2 concurrent)');
  });
});

describe('compactJson', () => {
  it('round-trips and keeps short values on one line', () => {
    const v = { a: 1, b: { c: [1, 2], d: 'x' }, long: Array.from({ length: 30 }, (_, i) => `item-${i}`) };
    const out = compactJson(v);
    expect(JSON.parse(out)).toEqual(v);
    expect(out).toContain('"b": {"c": [1, 2], "d": "x"}');
    expect(out.split('\n').length).toBeGreaterThan(30);
  });
});
