// Pure: whether two recorded runs measured the same thing. Differing SLO rules, model, payload (request bodies)
// or load model make them not comparable; other differences (target, stage length, machine) are only noted.
import type { Difference } from '../model/compare.ts';
import type { Profile } from '../profile/types.ts';
import { planLevels } from '../profile/plan.ts';
import { cpusText, nodeText } from '../report/environment.ts';
import { formatDuration } from '../util/units.ts';
import type { RunDir } from './run-dir.ts';

const MAX_PAYLOAD_DIFFERENCES = 5;
const EXCERPT_CHARS = 80;

const normalizedRule = (text: string) => text.replace(/\s+/g, '');
const show = (v: unknown) => (v === undefined ? '(not set)' : JSON.stringify(v));

/** Every rule that only one run has, each named. */
function sloDifferences(a: Profile, b: Profile): Difference[] {
  const inA = new Map(a.slo.map((r) => [normalizedRule(r.text), r.text]));
  const inB = new Map(b.slo.map((r) => [normalizedRule(r.text), r.text]));
  const out: Difference[] = [];
  for (const [key, text] of inA) if (!inB.has(key)) out.push({ what: 'SLO rule', a: text, b: '(absent)' });
  for (const [key, text] of inB) if (!inA.has(key)) out.push({ what: 'SLO rule', a: '(absent)', b: text });
  return out;
}

function excerpt(messages: readonly { role: string; content: string }[]): string {
  const text = messages.map((m) => `${m.role}: ${m.content}`).join(' | ');
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

/** The request bodies: their messages and every body field the tool sends. */
function payloadDifferences(a: Profile, b: Profile): Difference[] {
  const out: Difference[] = [];
  const pa = a.request.payloads;
  const pb = b.request.payloads;
  if (pa.length !== pb.length)
    out.push({
      what: 'request payloads (count)',
      a: `${pa.length} (${a.request.source})`,
      b: `${pb.length} (${b.request.source})`,
    });
  let listed = 0;
  for (let i = 0; i < Math.min(pa.length, pb.length) && listed < MAX_PAYLOAD_DIFFERENCES; i++) {
    if (JSON.stringify(pa[i]!.messages) === JSON.stringify(pb[i]!.messages)) continue;
    out.push({ what: `request payload ${i + 1} (messages)`, a: excerpt(pa[i]!.messages), b: excerpt(pb[i]!.messages) });
    listed++;
  }
  const fields: [string, unknown, unknown][] = [
    ['request.max_tokens', a.request.maxTokens, b.request.maxTokens],
    ['request.temperature', a.request.temperature, b.request.temperature],
    ['request.stream', a.request.stream, b.request.stream],
    ['request.extra_body', a.request.extraBody, b.request.extraBody],
  ];
  // The seed picks which payload each request sends: it matters only when there are several.
  if (pa.length > 1 || pb.length > 1) fields.push(['request.seed', a.request.seed, b.request.seed]);
  for (const [what, va, vb] of fields) if (show(va) !== show(vb)) out.push({ what, a: show(va), b: show(vb) });
  return out;
}

/** How requests arrive: a closed loop at a concurrency per stage, or (rate ramps) an open loop. */
export function loadModelOf(p: Profile): string {
  const ramp = p.ramp as unknown as Record<string, unknown>;
  if (ramp['rate'] !== undefined && ramp['rate'] !== null) {
    const arrival = typeof ramp['arrival'] === 'string' ? ramp['arrival'] : 'poisson';
    const burstiness = ramp['burstiness'] === undefined ? '' : `, burstiness ${show(ramp['burstiness'])}`;
    return `open loop (rate ramp, ${arrival} arrivals${burstiness})`;
  }
  return 'closed loop (concurrency ramp)';
}

export function targetOf(run: RunDir): string {
  const sim = run.profile.target.simulator;
  if (sim) {
    const overrides = Object.keys(sim.overrides).length > 0 ? ` ${JSON.stringify(sim.overrides)}` : '';
    return `built-in simulator, preset ${sim.preset}${overrides}`;
  }
  return run.summary?.target?.base_url ?? run.profile.target.baseUrl ?? 'unknown';
}

function plannedLevels(p: Profile): string {
  return p.ramp.concurrency ? planLevels(p.ramp.concurrency).join(', ') : loadModelOf(p);
}

function stageOf(p: Profile): string {
  const { stage, warmupMs } = p.ramp;
  const limits = [
    stage.durationMs === null ? null : formatDuration(stage.durationMs),
    stage.requests === null ? null : `${stage.requests} requests`,
  ].filter((x) => x !== null);
  return `warm-up ${formatDuration(warmupMs)}, window ${limits.join(' or ')}`;
}

function environmentOf(run: RunDir): string {
  const e = run.summary?.environment;
  return e ? `${e.platform}, ${cpusText(e)}, Node ${nodeText(e)}` : 'unknown';
}

/** Differences worth knowing that do not change what was measured. */
function noteDifferences(a: RunDir, b: RunDir): Difference[] {
  const t = ({ request: { timeouts: x } }: Profile) =>
    `first_token ${formatDuration(x.firstTokenMs)}, idle ${formatDuration(x.idleMs)}, total ${formatDuration(x.totalMs)}`;
  const resolution = (p: Profile) =>
    p.verdict.bisectResolution === null ? 'auto' : String(p.verdict.bisectResolution);
  const rows: [string, string, string][] = [
    ['target', targetOf(a), targetOf(b)],
    ['planned levels', plannedLevels(a.profile), plannedLevels(b.profile)],
    ['stage', stageOf(a.profile), stageOf(b.profile)],
    ['request.timeouts', t(a.profile), t(b.profile)],
    ['verdict.confidence', String(a.profile.verdict.confidence), String(b.profile.verdict.confidence)],
    ['verdict.confirm_failures', String(a.profile.verdict.confirmFailures), String(b.profile.verdict.confirmFailures)],
    ['verdict.resolution', resolution(a.profile), resolution(b.profile)],
    ['workers', String(a.profile.workers), String(b.profile.workers)],
    ['find-capacity version', a.summary?.tool_version ?? 'unknown', b.summary?.tool_version ?? 'unknown'],
    ['load-generator machine', environmentOf(a), environmentOf(b)],
  ];
  return rows.filter(([, va, vb]) => va !== vb).map(([what, va, vb]) => ({ what, a: va, b: vb }));
}

/** What makes the runs not comparable (every difference listed), and what is only worth noting. */
export function differencesOf(a: RunDir, b: RunDir): { differences: Difference[]; notes: Difference[] } {
  const differences = [
    ...sloDifferences(a.profile, b.profile),
    ...(a.profile.target.model === b.profile.target.model
      ? []
      : [{ what: 'target.model', a: a.profile.target.model, b: b.profile.target.model }]),
    ...payloadDifferences(a.profile, b.profile),
    ...(loadModelOf(a.profile) === loadModelOf(b.profile)
      ? []
      : [{ what: 'load model', a: loadModelOf(a.profile), b: loadModelOf(b.profile) }]),
  ];
  return { differences, notes: noteDifferences(a, b) };
}
