// compare.html: two runs side by side in report.html's style and CSP; no script, charts pre-rendered to SVG.
import type { ComparedRun, Comparison, Difference } from '../model/compare.ts';
import { formatMs } from '../slo/evaluate.ts';
import { compareCharts, RUN_COLORS } from './compare-charts.ts';
import { changeText, compareVerdict, formatInterval, formatValue, OUTCOME_LABEL } from './compare-text.ts';
import { CSS, scriptJson } from './html.ts';
import { chartFigure, esc, pageHead } from './html-parts.ts';

const pct = (x: number) => `${Number((x * 100).toFixed(2))}%`;

function headlineOf(c: Comparison): string {
  const [first = ''] = compareVerdict(c);
  if (c.verdict !== 'regression') return first;
  const names = c.metrics.filter((m) => m.outcome === 'regression').map((m) => m.label);
  return `${first.replace(/:$/, '')}: ${names.join(', ')}.`;
}

function differenceTable(list: readonly Difference[], id: string): string {
  const rows = list
    .map((d) => `<tr><th scope="row">${esc(d.what)}</th><td>${esc(d.a)}</td><td>${esc(d.b)}</td></tr>`)
    .join('');
  return `<table class="sla compare-diff" id="${id}"><thead><tr><th></th><th scope="col">A</th><th scope="col">B</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function runCard(r: ComparedRun): string {
  const cap = r.capacity.concurrency;
  const [lo, hi] = r.capacityRange;
  const range = `the knee lies in [${lo}, ${hi === null ? '∞' : hi}]`;
  const at = r.atCapacity
    ? ` At capacity: ${r.atCapacity.qps.toFixed(2)} QPS, ${Math.round(r.atCapacity.outputTokensPerS).toLocaleString('en-US')} output tokens/s.`
    : '';
  return `<div class="card run-${r.label}" id="run-${r.label}"><h3><span class="swatch swatch-${r.label}"></span>Run ${r.label}: capacity ${cap === null ? 'none' : cap}</h3><p><code>${esc(r.capacity.stopReason)}</code> — ${esc(r.capacity.stopDetail)}; ${range}.${at}</p><p class="small">${esc(r.name)} · ${esc(r.target)} · model ${esc(r.model)}</p></div>`;
}

function metricsTable(c: Comparison): string {
  if (c.metrics.length === 0) return '';
  const head =
    '<thead><tr><th scope="col">Metric</th><th scope="col">A</th><th scope="col">A interval</th><th scope="col">B</th><th scope="col">B interval</th><th scope="col">Change</th><th scope="col">Result</th></tr></thead>';
  const rows = c.metrics.map(
    (m) =>
      `<tr class="o-${m.outcome}" data-metric="${esc(m.metric)}" data-outcome="${esc(m.outcome)}"><th scope="row">${esc(m.label)}</th><td class="num">${esc(formatValue(m.unit, m.a.value))}</td><td class="num small">${esc(formatInterval(m.unit, m.a.interval))}</td><td class="num">${esc(formatValue(m.unit, m.b.value))}</td><td class="num small">${esc(formatInterval(m.unit, m.b.interval))}</td><td class="num">${esc(changeText(m))}</td><td>${esc(OUTCOME_LABEL[m.outcome])}</td></tr>`,
  );
  return `<div class="scroll"><table class="compare" id="metrics-table">${head}<tbody>${rows.join('')}</tbody></table></div>`;
}

function method(c: Comparison): string {
  return `<section id="method"><h2>How the runs are compared</h2><dl class="defs">
<dt>Same fold</dt><dd>Both runs are rebuilt from their own files (profile.json, stages.jsonl, requests.jsonl) by the fold behind <code>find-capacity report</code>; nothing else is read, so run directories copied from other machines compare alike.</dd>
<dt>Comparable</dt><dd>The runs must share their SLO rules, model, request payloads (messages, max_tokens, temperature, stream, extra_body) and load model; otherwise the comparison stops here and lists every difference (exit 2).</dd>
<dt>Capacity</dt><dd>A run's knee lies between its capacity and the level below its first confirmed FAIL. A regression needs B's highest possible knee below A's lowest by more than ${esc(pct(c.maxRegression))}.</dd>
<dt>At a common level</dt><dd>At every concurrency both runs tested, up to A's capacity: QPS with a Poisson score interval on the successful completions in the window; ${esc(c.ttftStat)} TTFT and ${esc(c.e2eStat)} E2E with order-statistic intervals; the error rate with a Wilson interval; all at ${Math.round(c.confidence * 100)}% confidence. A regression needs B's whole interval beyond A's by more than ${esc(pct(c.maxRegression))} of A's bound (latency: and by more than ${esc(formatMs(c.timingToleranceMs))}, the load generator's own accepted timing error; error rate: ${esc(pct(c.maxRegression))} in points).</dd>
<dt>Otherwise</dt><dd>Overlapping intervals are "no significant change"; disjoint ones by less than the allowance are "worse, within allowance"; B's interval wholly better is an improvement.</dd>
</dl></section>`;
}

const COMPARE_CSS = `
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.swatch-A { background: ${RUN_COLORS.A}; } .swatch-B { background: ${RUN_COLORS.B}; }
table.compare { font-size: 12px; width: 100%; }
table.compare thead th { background: var(--bg-soft); white-space: nowrap; }
table.compare tr.o-regression td, table.compare tr.o-regression th { background: #fdecea; }
table.compare tr.o-improvement td { background: #eef7ef; }
table.compare-diff td { overflow-wrap: anywhere; }
@media print { table.compare { font-size: 7.5pt; } table.compare tr td, table.compare tr th { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
`;

function runsSection(c: Comparison): string {
  const dl = (r: ComparedRun) =>
    `<h3>Run ${r.label}</h3><dl class="details"><dt>Directory</dt><dd><code>${esc(r.dir)}</code></dd><dt>Name</dt><dd>${esc(r.name)}</dd><dt>Target</dt><dd>${esc(r.target)}</dd><dt>Model</dt><dd>${esc(r.model)}</dd><dt>Started</dt><dd>${esc(r.startedAt ?? 'unknown')}</dd><dt>find-capacity</dt><dd>${esc(r.toolVersion ?? 'unknown')}</dd></dl>`;
  const notes =
    c.notes.length > 0
      ? `<h3>Other differences</h3><p class="small">They do not change what is measured, so the runs stay comparable.</p>${differenceTable(c.notes, 'notes')}`
      : '';
  return `<section id="runs"><h2>The runs</h2>${dl(c.a)}${dl(c.b)}${notes}</section>`;
}

export function renderCompareHtml(c: Comparison, toolVersion: string): string {
  const title = `Comparison: ${c.a.name} (A) vs ${c.b.name} (B)`;
  const bad = c.verdict !== 'no_regression';
  const lines = compareVerdict(c).slice(1);
  const charts = compareCharts(c);
  const differences =
    c.differences.length > 0
      ? `<section id="differences"><h2>Not comparable</h2><p>The runs differ in what they measure; fix these and run again:</p>${differenceTable(c.differences, 'differences-table')}</section>`
      : '';
  return `${pageHead(title, toolVersion, CSS + COMPARE_CSS)}
<body>
<header>
<h1>${esc(title)}</h1>
<p class="meta">A: ${esc(c.a.dir)} · B: ${esc(c.b.dir)} · find-capacity ${esc(toolVersion)}</p>
<nav><a href="#answer">Answer</a>${differences ? '<a href="#differences">Differences</a>' : ''}<a href="#metrics">Metrics</a><a href="#charts">Charts</a><a href="#runs">Runs</a><a href="#method">Method</a></nav>
</header>
<main>
<section id="answer" class="answer${bad ? ' none' : ''}">
<p class="headline" id="headline" data-verdict="${esc(c.verdict)}">${esc(headlineOf(c))}</p>
${lines.length > 0 && c.verdict === 'regression' ? `<ul class="reasons">${lines.map((l) => `<li>${esc(l.trim())}</li>`).join('')}</ul>` : ''}
<p class="small">Allowed regression ${esc(pct(c.maxRegression))} (<code>--max-regression</code>), ${Math.round(c.confidence * 100)}% confidence intervals.</p>
</section>
${differences}
<div class="cards">${runCard(c.a)}${runCard(c.b)}</div>
<section id="metrics"><h2>Metrics</h2>${c.metrics.length > 0 ? metricsTable(c) : '<p class="note">Not judged: the runs are not comparable.</p>'}</section>
<section id="charts"><h2>Charts</h2>
<p class="small">x = the concurrency of each stage. Run A in blue, run B in orange; the shape of a point is its stage's verdict (PASS circle, FAIL cross, INCONCLUSIVE diamond, INVALID square). Hover a point for its exact numbers.</p>
${charts.map(chartFigure).join('\n')}
</section>
${runsSection(c)}
${method(c)}
</main>
<footer>Generated by find-capacity ${esc(toolVersion)} from the two run directories. This file makes no network requests. It embeds the comparison (<code>script#fc-comparison</code>) as JSON.</footer>
<script type="application/json" id="fc-comparison">${scriptJson(c)}</script>
</body>
</html>
`;
}
