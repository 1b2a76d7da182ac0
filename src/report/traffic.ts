// What the traffic's shape adds to a report, shown only when a run has it: TTFT next to TTFO (time to the first
// answer token) for reasoning models, TTFT of first and later turns of conversations (the prefix-cache effect), and
// a warning when the server stopped before the output length requests asked for. Pure string builders.
import { formatMs } from '../slo/evaluate.ts';
import type { StageJson, SummaryJson } from './summary.ts';

type Dist = StageJson['ttft_ms'];

const esc = (v: unknown): string =>
  String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (x: number | null | undefined, digits = 0): string =>
  x === null || x === undefined ? 'n/a' : x.toFixed(digits);

/** Stages with reasoning: TTFO measured and not the same as TTFT (a summary.json from before has no ttfo_ms). */
export function reasoningStages(s: SummaryJson): StageJson[] {
  return s.stages.filter(
    (st) =>
      (st.reasoning_tokens_avg ?? 0) > 0 || (st.ttfo_ms && st.ttfo_ms.count > 0 && st.ttfo_ms.p50 !== st.ttft_ms.p50),
  );
}

export function conversationStages(s: SummaryJson): StageJson[] {
  return s.stages.filter((st) => (st.ttft_later_turns_ms?.count ?? 0) > 0);
}

export function shortOutputRequests(s: SummaryJson): number {
  return s.stages.reduce((n, st) => n + (st.output_tokens_short ?? 0), 0);
}

const cells = (d: Dist | undefined): string =>
  `<td class="num">${esc(formatMs(d?.p50 ?? null))}</td><td class="num">${esc(formatMs(d?.p99 ?? null))}</td>`;

function table(head: string, rows: string[]): string {
  return `<div class="scroll"><table class="dist"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function reasoningTable(stages: StageJson[]): string {
  const head =
    '<tr><th>#</th><th>Conc.</th><th>TTFT p50</th><th>TTFT p99</th><th>TTFO p50</th><th>TTFO p99</th><th>reasoning tokens (mean)</th></tr>';
  const rows = stages.map(
    (st) =>
      `<tr><td class="num">${st.index}</td><td class="num">${st.concurrency}</td>${cells(st.ttft_ms)}${cells(st.ttfo_ms)}<td class="num">${num(st.reasoning_tokens_avg, 1)}</td></tr>`,
  );
  return `<h3 id="ttfo">Reasoning: first token vs first answer token</h3><p class="small">TTFT is the first token of either kind, reasoning included; TTFO (time to first output) is the first token of the answer itself, after the reasoning.</p>${table(head, rows)}`;
}

function turnsTable(stages: StageJson[]): string {
  const head =
    '<tr><th>#</th><th>Conc.</th><th>first turns p50</th><th>first turns p99</th><th>n</th><th>later turns p50</th><th>later turns p99</th><th>n</th><th>prompt tokens (mean)</th><th>cached tokens (mean)</th></tr>';
  const rows = stages.map(
    (st) =>
      `<tr><td class="num">${st.index}</td><td class="num">${st.concurrency}</td>${cells(st.ttft_first_turn_ms)}<td class="num">${st.ttft_first_turn_ms.count}</td>${cells(st.ttft_later_turns_ms)}<td class="num">${st.ttft_later_turns_ms.count}</td><td class="num">${num(st.prompt_tokens_avg)}</td><td class="num">${num(st.cached_tokens_avg)}</td></tr>`,
  );
  return `<h3 id="turns">TTFT by conversation turn</h3><p class="small">Later turns resend the history and the server's previous answer: a server with a prefix cache prefills only the new part, so their TTFT is lower than the first turns'. Cached tokens as the server reported them (<code>usage.prompt_tokens_details.cached_tokens</code>).</p>${table(head, rows)}`;
}

const SHORT_HINT =
  'the server stopped before the requested output length (max_tokens), so output-length-bound numbers (E2E, tokens/s) describe shorter answers than asked for. vLLM and SGLang accept <code>request.extra_body: {ignore_eos: true}</code> (or <code>min_tokens</code>) to force the length.';

/** The report's section on the traffic's shape; empty when the run has none of it. */
export function trafficSection(s: SummaryJson): string {
  const parts: string[] = [];
  const short = shortOutputRequests(s);
  if (short > 0)
    parts.push(
      `<div class="callout warn" id="short-output"><strong>${short} successful request${short === 1 ? '' : 's'} received fewer output tokens than asked for:</strong> ${SHORT_HINT}</div>`,
    );
  const reasoning = reasoningStages(s);
  if (reasoning.length > 0) parts.push(reasoningTable(reasoning));
  const turns = conversationStages(s);
  if (turns.length > 0) parts.push(turnsTable(turns));
  return parts.join('\n');
}

/** The same, as lines for the terminal after the stage table. */
export function trafficLines(s: SummaryJson): string[] {
  const lines: string[] = [];
  for (const st of reasoningStages(s))
    lines.push(
      `stage ${st.index} (${st.concurrency}): TTFT p99 ${formatMs(st.ttft_ms.p99)}, TTFO p99 ${formatMs(st.ttfo_ms.p99)} (first answer token, after ${num(st.reasoning_tokens_avg, 1)} reasoning tokens on average)`,
    );
  for (const st of conversationStages(s))
    lines.push(
      `stage ${st.index} (${st.concurrency}): TTFT p50 first turns ${formatMs(st.ttft_first_turn_ms.p50)} (${st.ttft_first_turn_ms.count}), later turns ${formatMs(st.ttft_later_turns_ms.p50)} (${st.ttft_later_turns_ms.count})`,
    );
  const short = shortOutputRequests(s);
  if (short > 0)
    lines.push(
      `Warning: ${short} successful request${short === 1 ? '' : 's'} received fewer output tokens than asked for: the server stopped early (vLLM/SGLang: set request.extra_body.ignore_eos: true).`,
    );
  return lines;
}
