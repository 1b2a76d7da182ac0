// Validates a parsed profile document in full and normalizes it to a Profile. Every problem is
// collected (never thrown) with its YAML path; SourceMap turns the path into file:line:col.
import path from 'node:path';
import type { ProfileProblem } from '../errors.ts';
import { parseRule } from '../slo/parse.ts';
import type { LatencyMetric, SloRule } from '../slo/types.ts';
import type { GoodputLimits } from '../model/summary.ts';
import {
  CONCURRENCY_KEYS,
  DEFAULTS,
  DEFAULT_SIMULATOR_PRESET,
  ARRIVAL_LAWS,
  KEY_TREE,
  MAX_CONCURRENCY,
  MAX_TIER_FACTOR,
  MAX_TIERS,
  MIN_TIER_FACTOR,
  MAX_RATE,
  MAX_WORKERS,
  MESSAGE_KEYS,
  MESSAGE_ROLES,
  RESERVED_BODY_KEYS,
  SIMULATOR_MODEL,
  type KeySpec,
} from './keys.ts';
import { checkAgentList } from './agents.ts';
import { effectiveDrainMs } from './plan.ts';
import { joinPath, type SourceMap } from './source.ts';
import { checkWorkload } from './workload.ts';
import type {
  ChatMessage,
  ConcurrencyPlan,
  HeaderValue,
  LimitsConfig,
  Profile,
  RampConfig,
  RatePlan,
  ReportConfig,
  RequestConfig,
  RequestPayload,
  SimulatorTarget,
  SizingConfig,
  StopConfig,
  TargetConfig,
  VerdictConfig,
} from './types.ts';
import { closest, describeValue, didYouMean, formatDuration, parseDuration, parsePercent } from '../util/units.ts';

type Obj = Record<string, unknown>;

export interface ValidateContext {
  /** The profile path as the user gave it (used in messages). */
  displayFile: string;
  /** Absolute path of the profile (Profile.file; prompts_file is relative to its directory). */
  absoluteFile: string;
  env: NodeJS.ProcessEnv;
  /** An unset variable (api_key_env, a header's env) is an error; false for commands that send nothing: a warning. */
  requireSecrets: boolean;
  source: SourceMap;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function has(obj: Obj, key: string): boolean {
  return Object.hasOwn(obj, key) && obj[key] !== undefined && obj[key] !== null;
}

/** Every key path in KEY_TREE, leaf name → full paths, for "belongs under target" hints. */
function keyLocations(spec: KeySpec, prefix = '', out = new Map<string, string[]>()): Map<string, string[]> {
  for (const [k, v] of Object.entries(spec)) {
    const full = prefix ? `${prefix}.${k}` : k;
    out.set(k, [...(out.get(k) ?? []), full]);
    if (typeof v === 'object') keyLocations(v, full, out);
  }
  return out;
}
const KEY_LOCATIONS = keyLocations(KEY_TREE);

export class Checker {
  readonly problems: ProfileProblem[] = [];
  constructor(readonly ctx: ValidateContext) {}

  private add(severity: 'error' | 'warning', p: string, message: string, at: 'key' | 'value'): void {
    const { line, col } = this.ctx.source.locate(p, at);
    this.problems.push({ file: this.ctx.displayFile, line, col, path: p, message, severity });
  }
  error(p: string, message: string, at: 'key' | 'value' = 'value'): void {
    this.add('error', p, message, at);
  }
  warn(p: string, message: string, at: 'key' | 'value' = 'value'): void {
    this.add('warning', p, message, at);
  }
  /** A problem located in another file (prompts_file lines). */
  errorIn(file: string, line: number, p: string, message: string): void {
    this.problems.push({ file, line, col: 1, path: p, message, severity: 'error' });
  }
  get errorCount(): number {
    return this.problems.filter((x) => x.severity === 'error').length;
  }

  /** Rejects keys not in `allowed`, with a did-you-mean among siblings or a hint where the key belongs. */
  checkKeys(obj: Obj, p: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (allowed.includes(key)) continue;
      // Top-level x-* keys are ignored, so they can hold YAML anchors (`x-defaults: &defaults`).
      if (p === '' && key.startsWith('x-')) continue;
      let hint = didYouMean(key, allowed);
      if (!hint) {
        const elsewhere = KEY_LOCATIONS.get(key) ?? KEY_LOCATIONS.get(closest(key, [...KEY_LOCATIONS.keys()]) ?? '');
        if (elsewhere && elsewhere.length === 1) hint = ` (did you mean "${elsewhere[0]}"?)`;
      }
      if (!hint && /key|token|secret|password/i.test(key))
        hint = ' (never put credentials in the profile: name an environment variable in target.api_key_env)';
      const expected = !hint && allowed.length <= 12 ? `; expected one of: ${allowed.join(', ')}` : '';
      this.error(joinPath(p, key), `unknown key "${key}"${hint}${expected}`, 'key');
    }
  }

  /** A nested mapping section: checks its type and its keys. Absent → null; wrong type → undefined. */
  section(parent: Obj, key: string, parentPath: string, spec: KeySpec): Obj | null | undefined {
    const p = joinPath(parentPath, key);
    if (!has(parent, key)) return null;
    const v = parent[key];
    if (!isObj(v)) {
      this.error(p, `must be a mapping with keys ${Object.keys(spec).join(', ')}, got ${describeValue(v)}`);
      return undefined;
    }
    this.checkKeys(v, p, Object.keys(spec));
    return v;
  }

  string(
    obj: Obj,
    key: string,
    parentPath: string,
    opts: { required?: string; secret?: boolean } = {},
  ): string | undefined {
    const p = joinPath(parentPath, key);
    if (!has(obj, key)) {
      if (opts.required) this.error(p, opts.required, 'key');
      return undefined;
    }
    const v = obj[key];
    if (typeof v !== 'string' || v.trim() === '') {
      const got = opts.secret ? '' : `, got ${describeValue(v)}`;
      this.error(p, `must be a non-empty string${got}`);
      return undefined;
    }
    return v;
  }

  bool(obj: Obj, key: string, parentPath: string): boolean | undefined {
    if (!has(obj, key)) return undefined;
    const v = obj[key];
    if (typeof v !== 'boolean') {
      this.error(joinPath(parentPath, key), `must be true or false, got ${describeValue(v)}`);
      return undefined;
    }
    return v;
  }

  integer(
    obj: Obj,
    key: string,
    parentPath: string,
    min: number,
    max: number,
    what = 'a positive integer',
  ): number | undefined {
    if (!has(obj, key)) return undefined;
    return this.integerValue(obj[key], joinPath(parentPath, key), min, max, what);
  }

  integerValue(v: unknown, p: string, min: number, max: number, what = 'a positive integer'): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      this.error(p, `must be ${what}, got ${describeValue(v)}`);
      return undefined;
    }
    if (v > max) {
      this.error(p, `must be at most ${max}, got ${v}`);
      return undefined;
    }
    return v;
  }

  number(obj: Obj, key: string, parentPath: string, min: number, max: number): number | undefined {
    if (!has(obj, key)) return undefined;
    const v = obj[key];
    const p = joinPath(parentPath, key);
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.error(p, `must be a number, got ${describeValue(v)}`);
      return undefined;
    }
    if (v < min || v > max) {
      this.error(p, `must be between ${min} and ${max}, got ${v}`);
      return undefined;
    }
    return v;
  }

  duration(obj: Obj, key: string, parentPath: string, opts: { allowZero: boolean }): number | undefined {
    if (!has(obj, key)) return undefined;
    const p = joinPath(parentPath, key);
    let ms: number;
    try {
      ms = parseDuration(obj[key]);
    } catch (err) {
      this.error(p, (err as Error).message);
      return undefined;
    }
    if (!opts.allowZero && ms <= 0) {
      this.error(p, `must be longer than 0, got ${describeValue(obj[key])}`);
      return undefined;
    }
    return ms;
  }

  percent(
    obj: Obj,
    key: string,
    parentPath: string,
    opts: { allowZero: boolean; allowOne: boolean },
  ): number | undefined {
    if (!has(obj, key)) return undefined;
    const p = joinPath(parentPath, key);
    let ratio: number;
    try {
      ratio = parsePercent(obj[key]);
    } catch (err) {
      this.error(p, (err as Error).message);
      return undefined;
    }
    if (!opts.allowZero && ratio <= 0) {
      this.error(p, `must be greater than 0%, got ${describeValue(obj[key])}`);
      return undefined;
    }
    if (!opts.allowOne && ratio >= 1) {
      this.error(p, `must be less than 100%, got ${describeValue(obj[key])}`);
      return undefined;
    }
    return ratio;
  }

  /** Exactly one of two keys must be present. Returns which one, or null after reporting. */
  exactlyOne(obj: Obj, p: string, a: string, b: string, what: string): string | null {
    const hasA = has(obj, a);
    const hasB = has(obj, b);
    if (hasA && hasB) {
      this.error(joinPath(p, b), `cannot be used together with ${a}: ${p} takes one of them`, 'key');
      return null;
    }
    if (!hasA && !hasB) {
      this.error(p, `needs ${what}: set ${a} or ${b}`, 'key');
      return null;
    }
    return hasA ? a : b;
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_QUERY = /key|token|secret|sig|password|auth/i;
const CREDENTIAL_HEADERS = /^(authorization|proxy-authorization|api-key|x-api-key|cookie)$/i;

/** `name`: the run-directory stem. Sanitized to [A-Za-z0-9._-]; defaults to the file name. */
export function sanitizeName(raw: string): string {
  return raw
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 64);
}

function checkName(c: Checker, root: Obj, absoluteFile: string): string {
  const fromFile = sanitizeName(path.basename(absoluteFile).replace(/\.(ya?ml)$/i, '')) || 'profile';
  const raw = c.string(root, 'name', '');
  if (raw === undefined) return fromFile;
  const clean = sanitizeName(raw);
  if (clean === '') {
    c.error(
      'name',
      `must contain at least one letter or digit (it names the run directory), got ${describeValue(raw)}`,
    );
    return fromFile;
  }
  if (clean !== raw) c.warn('name', `is used as "${clean}" in run directory names (only A-Z a-z 0-9 . _ - are kept)`);
  return clean;
}

function checkTarget(c: Checker, root: Obj, env: NodeJS.ProcessEnv): Partial<TargetConfig> {
  const t = c.section(root, 'target', '', KEY_TREE.target);
  if (t === null)
    c.error('target', 'is required: set target.base_url (an OpenAI-compatible endpoint) or target.simulator', 'key');
  if (!t) return {};
  // A bare `simulator:` means the simulator with its default preset.
  if (Object.hasOwn(t, 'simulator') && t['simulator'] === null) t['simulator'] = {};
  const out: Partial<TargetConfig> = { headers: {}, simulator: null, baseUrl: null, apiKeyEnv: null };
  const which = c.exactlyOne(t, 'target', 'base_url', 'simulator', 'an endpoint');

  const rawUrl = c.string(t, 'base_url', 'target', { secret: true });
  if (rawUrl !== undefined) {
    const baseUrl = checkBaseUrl(c, rawUrl);
    if (baseUrl !== undefined) out.baseUrl = baseUrl;
  }
  if (has(t, 'simulator')) {
    const simulator = checkSimulator(c, t['simulator']);
    if (simulator !== undefined) out.simulator = simulator;
  }

  const model = c.string(t, 'model', 'target', {
    required: which === 'base_url' ? 'is required with base_url: the model name the endpoint serves' : undefined,
  });
  const simModel = out.simulator?.overrides['model'];
  out.model =
    model?.trim() ?? (which === 'simulator' ? (typeof simModel === 'string' ? simModel : SIMULATOR_MODEL) : undefined);

  if (has(t, 'api_key_env')) {
    const apiKeyEnv = checkApiKeyEnv(c, t['api_key_env'], env);
    if (apiKeyEnv !== undefined) out.apiKeyEnv = apiKeyEnv;
  }
  if (has(t, 'headers')) {
    const headers = checkHeaders(c, t['headers'], env);
    if (headers !== undefined) out.headers = headers;
  }
  if (has(t, 'metrics_url')) {
    const metricsUrl = checkMetricsUrl(c, t['metrics_url']);
    if (metricsUrl !== undefined) out.metricsUrl = metricsUrl;
  }
  return out;
}

/** target.metrics_url → a URL, false (off) or null (the default: base_url's origin + /metrics), or undefined. */
function checkMetricsUrl(c: Checker, v: unknown): string | false | null | undefined {
  if (v === false) return false;
  if (v === true || v === null) return null;
  const p = 'target.metrics_url';
  let url: URL | null = null;
  try {
    if (typeof v === 'string') url = new URL(v.trim());
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    const got = typeof v === 'string' ? '' : `, got ${describeValue(v)}`;
    c.error(p, `must be an absolute http(s) URL such as http://host:8000/metrics, or false to scrape nothing${got}`);
    return undefined;
  }
  if (url.username || url.password || [...url.searchParams.keys()].some((k) => SECRET_QUERY.test(k))) {
    c.error(p, 'must not carry credentials; the auth headers of target are sent with it when the server asks');
    return undefined;
  }
  return url.toString();
}

/** target.base_url → the URL without trailing slashes, or undefined after reporting. */
function checkBaseUrl(c: Checker, rawUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(rawUrl.trim());
  } catch {
    c.error('target.base_url', 'must be an absolute http(s) URL such as https://api.openai.com/v1');
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    c.error('target.base_url', `must use http or https, got ${url.protocol.replace(/:$/, '')}`);
    return undefined;
  }
  if (url.username || url.password) {
    c.error(
      'target.base_url',
      'must not contain credentials (user:password@); name the key variable in target.api_key_env',
    );
    return undefined;
  }
  if ([...url.searchParams.keys()].some((k) => SECRET_QUERY.test(k))) {
    c.error(
      'target.base_url',
      'must not carry a key or token in its query string; name the key variable in target.api_key_env',
    );
    return undefined;
  }
  if (url.pathname === '/' || url.pathname === '') {
    c.warn('target.base_url', 'has no path; OpenAI-compatible servers usually serve under /v1 (e.g. https://host/v1)');
  }
  return url.toString().replace(/\/+$/, '');
}

function checkSimulator(c: Checker, sim: unknown): SimulatorTarget | undefined {
  if (!isObj(sim)) {
    c.error('target.simulator', `must be a mapping such as {preset: demo, slots: 8}, got ${describeValue(sim)}`);
    return undefined;
  }
  let preset: string = DEFAULT_SIMULATOR_PRESET;
  if (has(sim, 'preset')) {
    const v = sim['preset'];
    if (typeof v !== 'string' || v.trim() === '')
      c.error('target.simulator.preset', `must be a preset name such as "demo", got ${describeValue(v)}`);
    else preset = v.trim();
  }
  // Any other key overrides a simulator setting; the simulator validates them when it starts.
  const overrides: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sim)) if (k !== 'preset') overrides[k] = v;
  return { preset, overrides };
}

/** target.api_key_env → the variable name, or undefined when it is not a name; reports an unset variable. */
function checkApiKeyEnv(c: Checker, v: unknown, env: NodeJS.ProcessEnv): string | undefined {
  if (typeof v !== 'string' || !ENV_NAME.test(v)) {
    // Never echo the value: a user may have pasted the key itself here.
    c.error(
      'target.api_key_env',
      'must be the NAME of an environment variable (letters, digits, _), not the key itself',
    );
    return undefined;
  }
  checkVariableSet(c, 'target.api_key_env', v, env);
  return v;
}

/** An unset or empty variable stops a run (error); `validate` and `--dry-run` send nothing, so only warn. */
function checkVariableSet(c: Checker, p: string, name: string, env: NodeJS.ProcessEnv): void {
  const value = env[name];
  if (value !== undefined && value !== '') return;
  const state = value === undefined ? 'not set' : 'empty';
  if (c.ctx.requireSecrets)
    c.error(p, `environment variable ${name} is ${state}; export it before running (e.g. export ${name}=...)`);
  else c.warn(p, `environment variable ${name} is ${state}: the run will refuse to start until it is exported`);
}

/** `{env: NAME}`: the header's value is read from that variable when the run starts. */
function checkHeaderEnv(c: Checker, p: string, value: Obj, env: NodeJS.ProcessEnv): { env: string } | undefined {
  const name = value['env'];
  if (Object.keys(value).length !== 1 || typeof name !== 'string' || !ENV_NAME.test(name)) {
    c.error(p, 'value must be a string, or {env: NAME} to read it from an environment variable');
    return undefined;
  }
  checkVariableSet(c, p, name, env);
  return { env: name };
}

function checkHeaders(c: Checker, h: unknown, env: NodeJS.ProcessEnv): Record<string, HeaderValue> | undefined {
  if (!isObj(h)) {
    c.error('target.headers', `must be a mapping of header name to value, got ${describeValue(h)}`);
    return undefined;
  }
  const headers: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(h)) {
    const p = joinPath('target.headers', name);
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
      c.error(p, 'is not a valid HTTP header name', 'key');
      continue;
    }
    if (isObj(value)) {
      const fromEnv = checkHeaderEnv(c, p, value, env);
      if (fromEnv) headers[name] = fromEnv;
      continue;
    }
    // Header values may be secrets: messages never include them.
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      headers[name] = String(value);
      if (/[\r\n]/.test(String(value))) c.error(p, 'value must be a single line');
    } else {
      c.error(p, 'value must be a string, or {env: NAME}');
    }
    if (CREDENTIAL_HEADERS.test(name)) {
      c.warn(
        p,
        'carries a credential in the profile file; prefer target.api_key_env, or {env: NAME} (the value is redacted from all output either way)',
        'key',
      );
    }
  }
  return headers;
}

function checkMessages(c: Checker, v: unknown, p: string): ChatMessage[] | undefined {
  if (!Array.isArray(v) || v.length === 0) {
    c.error(p, `must be a non-empty list of {role, content} messages, got ${describeValue(v)}`);
    return undefined;
  }
  const out: ChatMessage[] = [];
  let ok = true;
  v.forEach((m, i) => {
    const mp = joinPath(p, i);
    if (!isObj(m)) {
      c.error(mp, `must be a mapping {role, content}, got ${describeValue(m)}`);
      ok = false;
      return;
    }
    c.checkKeys(m, mp, MESSAGE_KEYS);
    const role = m['role'];
    const content = m['content'];
    if (typeof role !== 'string' || !(MESSAGE_ROLES as readonly string[]).includes(role)) {
      const hint = typeof role === 'string' ? didYouMean(role, MESSAGE_ROLES) : '';
      c.error(joinPath(mp, 'role'), `must be one of ${MESSAGE_ROLES.join(', ')}, got ${describeValue(role)}${hint}`);
      ok = false;
    }
    if (typeof content !== 'string') {
      c.error(joinPath(mp, 'content'), `must be a string, got ${describeValue(content)}`);
      ok = false;
    }
    if (ok) out.push({ role: role as string, content: content as string });
  });
  if (ok && !out.some((m) => m.role === 'user')) c.warn(p, 'has no user message; most servers expect one');
  return ok ? out : undefined;
}

async function checkRequest(c: Checker, root: Obj): Promise<Partial<RequestConfig>> {
  const r = c.section(root, 'request', '', KEY_TREE.request);
  if (r === null) c.error('request', 'is required: set request.messages, request.dataset or request.synthetic', 'key');
  if (!r) return {};
  // The payload source, endpoint, dataset, synthetic prompts and conversation: profile/workload.ts.
  const out = await checkWorkload(c, r, () => checkMessages(c, r['messages'], 'request.messages'));

  if (out.maxTokensFromDataset) out.maxTokens = null;
  else if (Object.hasOwn(r, 'max_tokens') && r['max_tokens'] === null) out.maxTokens = null;
  else {
    const v = c.integer(r, 'max_tokens', 'request', 1, 1_000_000);
    if (v !== undefined) out.maxTokens = v;
  }
  if (Object.hasOwn(r, 'temperature') && r['temperature'] === null) out.temperature = null;
  else {
    const v = c.number(r, 'temperature', 'request', 0, 2);
    if (v !== undefined) out.temperature = v;
  }
  out.stream = c.bool(r, 'stream', 'request');
  out.seed = c.integer(r, 'seed', 'request', 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer');

  if (has(r, 'extra_body')) {
    const body = r['extra_body'];
    if (!isObj(body))
      c.error('request.extra_body', `must be a mapping of extra request fields, got ${describeValue(body)}`);
    else {
      for (const key of Object.keys(body)) {
        if ((RESERVED_BODY_KEYS as readonly string[]).includes(key)) {
          const own = Object.hasOwn(KEY_TREE.request, key) ? `set request.${key} instead` : 'the tool sets it itself';
          c.error(joinPath('request.extra_body', key), `cannot be overridden here: ${own}`, 'key');
        }
      }
      out.extraBody = body;
    }
  }

  const tm = c.section(r, 'timeouts', 'request', KEY_TREE.request.timeouts);
  const timeouts: RequestConfig['timeouts'] = { ...DEFAULTS.request.timeouts };
  if (tm) {
    timeouts.firstTokenMs =
      c.duration(tm, 'first_token', 'request.timeouts', { allowZero: false }) ?? timeouts.firstTokenMs;
    timeouts.idleMs = c.duration(tm, 'idle', 'request.timeouts', { allowZero: false }) ?? timeouts.idleMs;
    timeouts.totalMs = c.duration(tm, 'total', 'request.timeouts', { allowZero: false }) ?? timeouts.totalMs;
    for (const [key, ms] of [
      ['first_token', timeouts.firstTokenMs],
      ['idle', timeouts.idleMs],
    ] as const) {
      if (has(tm, key) && ms > timeouts.totalMs) {
        c.warn(
          joinPath('request.timeouts', key),
          `${formatDuration(ms)} is longer than timeouts.total (${formatDuration(timeouts.totalMs)}), so it never fires`,
        );
      }
    }
  }
  out.timeouts = timeouts;
  return out;
}

function checkConcurrency(c: Checker, v: unknown): ConcurrencyPlan | undefined {
  const p = 'ramp.concurrency';
  const level = (x: unknown, xp: string): number | undefined => c.integerValue(x, xp, 1, MAX_CONCURRENCY);
  if (Array.isArray(v)) {
    if (v.length === 0) {
      c.error(p, 'must list at least one concurrency level');
      return undefined;
    }
    const levels: number[] = [];
    let ok = true;
    v.forEach((x, i) => {
      const n = level(x, joinPath(p, i));
      if (n === undefined) {
        ok = false;
        return;
      }
      const prev = levels[levels.length - 1];
      if (prev !== undefined && n <= prev) {
        c.error(joinPath(p, i), `levels must be strictly increasing, got ${n} after ${prev}`);
        ok = false;
      }
      levels.push(n);
    });
    return ok ? { kind: 'list', levels } : undefined;
  }
  if (!isObj(v)) {
    c.error(
      p,
      `must be a mapping {start, step | factor, max} or a list of levels such as [1, 2, 4, 8], got ${describeValue(v)}`,
    );
    return undefined;
  }
  c.checkKeys(v, p, Object.keys(CONCURRENCY_KEYS));
  const start = has(v, 'start') ? level(v['start'], `${p}.start`) : DEFAULTS.ramp.concurrencyStart;
  const max = has(v, 'max') ? level(v['max'], `${p}.max`) : undefined;
  if (!has(v, 'max')) c.error(`${p}.max`, 'is required: the highest concurrency to try', 'key');
  if (start !== undefined && max !== undefined && max < start)
    c.error(`${p}.max`, `must be at least start (${start}), got ${max}`);
  const which = c.exactlyOne(v, p, 'step', 'factor', 'a way to grow');
  let plan: ConcurrencyPlan | undefined;
  if (which === 'step') {
    const step = level(v['step'], `${p}.step`);
    if (step !== undefined && start !== undefined && max !== undefined) plan = { kind: 'step', start, step, max };
  } else if (which === 'factor') {
    const f = v['factor'];
    if (typeof f !== 'number' || !Number.isFinite(f) || f <= 1) {
      c.error(`${p}.factor`, `must be a number greater than 1 (e.g. 2 doubles each stage), got ${describeValue(f)}`);
    } else if (f > 100) {
      c.error(`${p}.factor`, `must be at most 100, got ${f}`);
    } else if (start !== undefined && max !== undefined) {
      plan = { kind: 'factor', start, factor: f, max };
    }
  }
  return plan !== undefined && max !== undefined && start !== undefined && max >= start ? plan : undefined;
}

function checkRamp(c: Checker, root: Obj): Partial<RampConfig> {
  const r = c.section(root, 'ramp', '', KEY_TREE.ramp);
  if (r === null) c.error('ramp', 'is required: at least ramp.concurrency', 'key');
  if (!r) return {};
  const out: Partial<RampConfig> = checkRampLoad(c, r);
  out.warmupMs = c.duration(r, 'warmup', 'ramp', { allowZero: true });
  out.drainMs = c.duration(r, 'drain', 'ramp', { allowZero: true });
  const st = c.section(r, 'stage', 'ramp', KEY_TREE.ramp.stage);
  if (st) {
    const durationMs = c.duration(st, 'duration', 'ramp.stage', { allowZero: false });
    const requests = c.integer(st, 'requests', 'ramp.stage', 1, 100_000_000);
    if (!has(st, 'duration') && !has(st, 'requests'))
      c.error('ramp.stage', 'needs duration, requests, or both (the stage ends at whichever comes first)', 'key');
    out.stage = { durationMs: durationMs ?? null, requests: requests ?? null };
  }
  return out;
}

/** What a stage's load is: concurrency levels (closed loop), or offered rates with their arrivals (open loop). */
function checkRampLoad(c: Checker, r: Obj): Partial<RampConfig> {
  if (has(r, 'concurrency') && has(r, 'rate')) {
    c.error(
      'ramp.rate',
      'cannot be used together with ramp.concurrency: a run ramps either the concurrency (closed loop) or the offered rate in requests/s (open loop); remove one of them',
      'key',
    );
    return {};
  }
  if (has(r, 'rate')) return { concurrency: null, ...checkRateRamp(c, r) };
  for (const key of ['arrival', 'burstiness', 'max_in_flight'])
    if (has(r, key))
      c.error(
        joinPath('ramp', key),
        'applies to rate runs only: set ramp.rate (requests/s) instead of ramp.concurrency',
        'key',
      );
  if (!has(r, 'concurrency')) {
    c.error(
      'ramp.concurrency',
      'is required, e.g. {start: 1, step: 4, max: 64} or [1, 2, 4, 8] (or ramp.rate in requests/s for a rate run)',
      'key',
    );
    return {};
  }
  return { concurrency: checkConcurrency(c, r['concurrency']) };
}

/** A rate run's keys: ramp.rate, ramp.arrival, ramp.burstiness (gamma only), ramp.max_in_flight. */
function checkRateRamp(c: Checker, r: Obj): Partial<RampConfig> {
  const rate = checkRatePlan(c, r['rate']);
  let arrival: RampConfig['arrival'] = has(r, 'burstiness') ? 'gamma' : DEFAULTS.ramp.arrival;
  if (has(r, 'arrival')) {
    const v = r['arrival'];
    if (typeof v === 'string' && (ARRIVAL_LAWS as readonly string[]).includes(v)) arrival = v as typeof arrival;
    else
      c.error(
        'ramp.arrival',
        `must be one of ${ARRIVAL_LAWS.join(', ')}, got ${describeValue(v)}${typeof v === 'string' ? didYouMean(v, ARRIVAL_LAWS) : ''}`,
      );
  }
  const burstiness = c.number(r, 'burstiness', 'ramp', 0.01, 100);
  if (burstiness !== undefined && arrival !== 'gamma')
    c.error('ramp.burstiness', `is the shape of gamma arrivals: set ramp.arrival: gamma (got ${arrival})`, 'key');
  const maxInFlight = c.integer(r, 'max_in_flight', 'ramp', 1, MAX_CONCURRENCY);
  return {
    rate,
    arrival,
    burstiness: burstiness ?? DEFAULTS.ramp.burstiness,
    maxInFlight: maxInFlight ?? DEFAULTS.ramp.maxInFlight,
  };
}

/** ramp.rate: {start, step | factor, max} or a strictly increasing list, in requests/s (not necessarily whole). */
function checkRatePlan(c: Checker, v: unknown): RatePlan | undefined {
  const p = 'ramp.rate';
  const rate = (x: unknown, xp: string): number | undefined => {
    if (typeof x === 'number' && Number.isFinite(x) && x > 0 && x <= MAX_RATE) return x;
    c.error(xp, `must be a rate in requests/s greater than 0 and at most ${MAX_RATE}, got ${describeValue(x)}`);
    return undefined;
  };
  if (Array.isArray(v)) {
    if (v.length === 0) c.error(p, 'must list at least one rate');
    const levels = v.map((x, i) => rate(x, joinPath(p, i)));
    const bad = levels.findIndex(
      (x, i) => i > 0 && x !== undefined && levels[i - 1] !== undefined && x <= levels[i - 1]!,
    );
    if (bad > 0)
      c.error(joinPath(p, bad), `rates must be strictly increasing, got ${levels[bad]} after ${levels[bad - 1]}`);
    return v.length > 0 && bad < 0 && levels.every((x) => x !== undefined)
      ? { kind: 'list', levels: levels as number[] }
      : undefined;
  }
  if (!isObj(v)) {
    c.error(
      p,
      `must be a mapping {start, step | factor, max} or a list of rates such as [2, 4, 8] (requests/s), got ${describeValue(v)}`,
    );
    return undefined;
  }
  c.checkKeys(v, p, Object.keys(CONCURRENCY_KEYS));
  if (!has(v, 'start')) c.error(`${p}.start`, 'is required: the first rate to offer, in requests/s', 'key');
  if (!has(v, 'max')) c.error(`${p}.max`, 'is required: the highest rate to offer, in requests/s', 'key');
  const start = has(v, 'start') ? rate(v['start'], `${p}.start`) : undefined;
  const max = has(v, 'max') ? rate(v['max'], `${p}.max`) : undefined;
  if (start !== undefined && max !== undefined && max < start)
    c.error(`${p}.max`, `must be at least start (${start}), got ${max}`);
  const which = c.exactlyOne(v, p, 'step', 'factor', 'a way to grow');
  let grow: number | undefined;
  if (which === 'step') grow = rate(v['step'], `${p}.step`);
  else if (which === 'factor') grow = c.number(v, 'factor', p, 1.01, 100);
  if (start === undefined || max === undefined || grow === undefined || max < start) return undefined;
  return which === 'step' ? { kind: 'step', start, step: grow, max } : { kind: 'factor', start, factor: grow, max };
}

/** goodput: per-request limits {ttft, tpot, e2e}; any subset. Absent: the latency rules' thresholds apply. */
function checkGoodput(c: Checker, root: Obj, request: Partial<RequestConfig>): GoodputLimits | undefined {
  const g = c.section(root, 'goodput', '', KEY_TREE.goodput);
  if (!g) return undefined;
  const limit = (key: string) => c.duration(g, key, 'goodput', { allowZero: false }) ?? null;
  const limits = { ttftMs: limit('ttft'), tpotMs: limit('tpot'), e2eMs: limit('e2e') };
  if ((request.stream ?? DEFAULTS.request.stream) === false)
    for (const key of ['ttft', 'tpot'])
      if (has(g, key)) c.error(joinPath('goodput', key), `needs streaming, but request.stream is false`, 'key');
  return limits;
}

const TIMEOUT_FOR_METRIC: Partial<
  Record<LatencyMetric, { key: 'first_token' | 'total' | 'idle'; field: 'firstTokenMs' | 'totalMs' | 'idleMs' }>
> = {
  ttft: { key: 'first_token', field: 'firstTokenMs' },
  ttfb: { key: 'first_token', field: 'firstTokenMs' },
  e2e: { key: 'total', field: 'totalMs' },
  itl: { key: 'idle', field: 'idleMs' },
  ttfo: { key: 'total', field: 'totalMs' },
};

function checkSlo(c: Checker, root: Obj): SloRule[] | undefined {
  if (!has(root, 'slo')) {
    c.warn(
      '',
      'no slo rules: every stage passes, the ramp runs to its max and only the efficiency knee is reported',
      'key',
    );
    return [];
  }
  const list = root['slo'];
  if (!Array.isArray(list)) {
    c.error(
      'slo',
      `must be a list of rules such as ["p99(ttft) < 1s", "success_rate >= 99%"], got ${describeValue(list)}`,
    );
    return undefined;
  }
  const rules: SloRule[] = [];
  let ok = true;
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const p = joinPath('slo', i);
    if (typeof item !== 'string') {
      const hint = isObj(item) ? ' (write each rule as one string, e.g. - "p99(ttft) < 1s")' : '';
      c.error(p, `must be a rule string such as "p99(ttft) < 1s", got ${describeValue(item)}${hint}`);
      ok = false;
      return;
    }
    try {
      const rule = parseRule(item);
      const key = rule.text.replace(/\s+/g, '');
      if (seen.has(key)) c.warn(p, `duplicate rule "${rule.text}"`);
      seen.add(key);
      rules.push(rule);
    } catch (err) {
      c.error(p, `bad rule "${item.trim()}": ${(err as Error).message}`);
      ok = false;
    }
  });
  return ok ? rules : undefined;
}

function checkVerdict(c: Checker, root: Obj): Partial<VerdictConfig> {
  const rateRun = isObj(root['ramp']) && has(root['ramp'], 'rate');
  const v = c.section(root, 'verdict', '', KEY_TREE.verdict);
  if (!v) return {};
  const out: Partial<VerdictConfig> = {};
  const conf = c.percent(v, 'confidence', 'verdict', { allowZero: false, allowOne: false });
  if (conf !== undefined && conf < 0.5)
    c.error('verdict.confidence', `must be at least 50%, got ${describeValue(v['confidence'])}`);
  else out.confidence = conf;
  out.confirmFailures = c.bool(v, 'confirm_failures', 'verdict');
  out.maxExtensions = c.integer(v, 'max_extensions', 'verdict', 0, 20, 'a non-negative integer');
  out.bisect = c.bool(v, 'bisect', 'verdict');
  if (Object.hasOwn(v, 'resolution') && (v['resolution'] === null || v['resolution'] === 'auto'))
    out.bisectResolution = null;
  else {
    const res = rateRun
      ? c.number(v, 'resolution', 'verdict', 0.001, MAX_RATE)
      : c.integer(v, 'resolution', 'verdict', 1, MAX_CONCURRENCY, 'a positive integer or "auto"');
    if (res !== undefined) out.bisectResolution = res;
  }
  if (
    Object.hasOwn(v, 'max_event_loop_delay') &&
    (v['max_event_loop_delay'] === null || v['max_event_loop_delay'] === 'auto')
  )
    out.maxEventLoopDelayMs = null;
  else {
    const eld = c.duration(v, 'max_event_loop_delay', 'verdict', { allowZero: false });
    if (eld !== undefined) out.maxEventLoopDelayMs = eld;
  }
  const ach = c.percent(v, 'min_achieved_concurrency', 'verdict', { allowZero: true, allowOne: true });
  if (ach !== undefined) out.minAchievedConcurrency = ach;
  return out;
}

function checkStop(c: Checker, root: Obj): Partial<StopConfig> {
  const s = c.section(root, 'stop', '', KEY_TREE.stop);
  if (!s) return {};
  return {
    onBreach: c.bool(s, 'on_breach', 'stop'),
    maxErrorRate: c.percent(s, 'max_error_rate', 'stop', { allowZero: false, allowOne: true }),
  };
}

function checkLimits(c: Checker, root: Obj): Partial<LimitsConfig> {
  const l = c.section(root, 'limits', '', KEY_TREE.limits);
  if (!l) return {};
  return {
    maxDurationMs: c.duration(l, 'max_duration', 'limits', { allowZero: false }),
    maxRequests: c.integer(l, 'max_requests', 'limits', 1, Number.MAX_SAFE_INTEGER),
    maxOutputTokens: c.integer(l, 'max_output_tokens', 'limits', 1, Number.MAX_SAFE_INTEGER),
  };
}

function checkReport(c: Checker, root: Obj): Partial<ReportConfig> {
  const r = c.section(root, 'report', '', KEY_TREE.report);
  if (!r) return {};
  return {
    dir: c.string(r, 'dir', 'report'),
    headroom: c.percent(r, 'headroom', 'report', { allowZero: false, allowOne: true }),
    efficiencyFraction: c.percent(r, 'efficiency', 'report', { allowZero: false, allowOne: true }),
    tiers: has(r, 'tiers') ? checkTiers(c, r['tiers']) : undefined,
    sizing: checkSizing(c, r),
  };
}

/** report.tiers: factors of each latency rule's threshold, e.g. [0.5, 1, 2]; sorted, duplicates dropped. */
function checkTiers(c: Checker, v: unknown): number[] | undefined {
  const p = 'report.tiers';
  if (!Array.isArray(v)) {
    c.error(p, `must be a list of factors of each latency rule's threshold, e.g. [0.5, 1, 2], got ${describeValue(v)}`);
    return undefined;
  }
  if (v.length > MAX_TIERS) {
    c.error(p, `must list at most ${MAX_TIERS} factors, got ${v.length}`);
    return undefined;
  }
  let ok = true;
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < MIN_TIER_FACTOR || x > MAX_TIER_FACTOR) {
      const hint =
        typeof x === 'string' && /ms|s$/.test(x.trim()) ? ' (tiers are factors such as 0.5, not durations)' : '';
      c.error(
        joinPath(p, i),
        `must be a factor between ${MIN_TIER_FACTOR} and ${MAX_TIER_FACTOR} (1 = the rule's own threshold), got ${describeValue(x)}${hint}`,
      );
      ok = false;
    }
  });
  return ok ? [...new Set(v as number[])].sort((a, b) => a - b) : undefined;
}

/** report.sizing: {peak_qps, redundancy, cost_per_hour, currency}; at least one of peak_qps and cost_per_hour. */
function checkSizing(c: Checker, report: Obj): SizingConfig | null | undefined {
  const p = 'report.sizing';
  const s = c.section(report, 'sizing', 'report', KEY_TREE.report.sizing);
  if (!s) return s;
  const peak = c.number(s, 'peak_qps', p, 0, 1e9);
  if (peak === 0) c.error(joinPath(p, 'peak_qps'), 'must be greater than 0 requests per second');
  const redundancy = c.integer(s, 'redundancy', p, 0, 10_000, 'a non-negative integer (spare replicas)');
  const cost = c.number(s, 'cost_per_hour', p, 0, 1e9);
  const currency = c.string(s, 'currency', p);
  if (currency !== undefined && currency.trim().length > 12)
    c.error(joinPath(p, 'currency'), `must be a short currency label such as USD or €, got ${describeValue(currency)}`);
  if (!has(s, 'peak_qps') && !has(s, 'cost_per_hour'))
    c.error(p, 'needs peak_qps (to count replicas), cost_per_hour (to price tokens), or both', 'key');
  return {
    peakQps: peak ?? null,
    redundancy: redundancy ?? 0,
    costPerHour: cost ?? null,
    currency: currency?.trim() ?? DEFAULTS.report.currency,
  };
}

/** Checks that need several sections: timeouts vs SLO thresholds, streaming vs token metrics. */
function crossCheck(c: Checker, request: Partial<RequestConfig>, rules: SloRule[] | undefined): void {
  if (!rules) return;
  const timeouts = request.timeouts ?? DEFAULTS.request.timeouts;
  const stream = request.stream ?? DEFAULTS.request.stream;
  rules.forEach((rule, i) => {
    if (rule.kind !== 'latency') return;
    const p = joinPath('slo', i);
    if (
      !stream &&
      (rule.metric === 'ttft' || rule.metric === 'tpot' || rule.metric === 'itl' || rule.metric === 'ttfo')
    ) {
      c.error(
        p,
        `${rule.metric} needs streaming, but request.stream is false (a non-streaming run measures ttfb and e2e only)`,
      );
      return;
    }
    const t = TIMEOUT_FOR_METRIC[rule.metric];
    if (!t) return;
    const timeoutMs = timeouts[t.field];
    if (timeoutMs < rule.thresholdMs && (rule.op === '<' || rule.op === '<=')) {
      c.warn(
        p,
        `request.timeouts.${t.key} (${formatDuration(timeoutMs)}) is shorter than this rule's threshold (${formatDuration(rule.thresholdMs)}): slow requests become timeout errors before they can breach it`,
      );
    }
  });
}

/** The checked sections of a profile, each still missing what the user left to the defaults. */
interface CheckedSections {
  name: string;
  target: Partial<TargetConfig>;
  request: Partial<RequestConfig>;
  ramp: Partial<RampConfig>;
  slo: SloRule[] | undefined;
  verdict: Partial<VerdictConfig>;
  stop: Partial<StopConfig>;
  limits: Partial<LimitsConfig>;
  report: Partial<ReportConfig>;
  goodput: GoodputLimits | undefined;
  workers: number | undefined;
  agents: string[] | undefined;
}

/** `agents`: a list of ws:// URLs of remote load agents; exclusive with worker threads (each agent is one loop). */
function checkAgents(c: Checker, root: Obj): string[] | undefined {
  if (!has(root, 'agents')) return undefined;
  const v = root['agents'];
  if (!Array.isArray(v)) {
    c.error('agents', `must be a list of agent URLs such as [ws://10.0.0.5:7070], got ${describeValue(v)}`);
    return undefined;
  }
  const { urls, problems } = checkAgentList(v);
  for (const [k, message] of problems) c.error(`agents[${k}]`, message);
  if (urls.length > 0 && typeof root['workers'] === 'number' && root['workers'] > 1)
    c.error('workers', 'cannot be combined with agents: each agent runs one event loop; list more agents instead');
  return problems.length > 0 ? undefined : urls;
}

/** Fills in DEFAULTS; called only when the checks found no error. */
function withDefaults(absoluteFile: string, sections: CheckedSections): Profile {
  const { name, target, request, ramp, slo, verdict, stop, limits, report, goodput, workers, agents } = sections;
  const D = DEFAULTS;
  return {
    name,
    file: absoluteFile,
    target: {
      baseUrl: target.baseUrl ?? null,
      model: target.model as string,
      apiKeyEnv: target.apiKeyEnv ?? null,
      headers: target.headers ?? {},
      simulator: target.simulator ?? null,
      // Only when set: a profile without the key stays as it was (the default is decided at run time).
      ...(target.metricsUrl !== undefined ? { metricsUrl: target.metricsUrl } : {}),
    },
    request: {
      payloads: request.payloads as RequestPayload[],
      source: request.source as string,
      // The simulator's presets document their capacity for their own default output length.
      maxTokens: request.maxTokens !== undefined ? request.maxTokens : target.simulator ? null : D.request.maxTokens,
      temperature: request.temperature === undefined ? D.request.temperature : request.temperature,
      stream: request.stream ?? D.request.stream,
      extraBody: request.extraBody ?? {},
      seed: request.seed ?? D.request.seed,
      timeouts: request.timeouts ?? { ...D.request.timeouts },
      maxTokensFromDataset: request.maxTokensFromDataset ?? false,
      endpoint: request.endpoint ?? 'chat',
      dataset: request.dataset ?? null,
      synthetic: request.synthetic ?? null,
      conversation: request.conversation ?? null,
    },
    ramp: {
      concurrency: ramp.rate ? null : (ramp.concurrency as ConcurrencyPlan),
      ...(ramp.rate
        ? { rate: ramp.rate, arrival: ramp.arrival, burstiness: ramp.burstiness, maxInFlight: ramp.maxInFlight }
        : {}),
      warmupMs: ramp.warmupMs ?? D.ramp.warmupMs,
      stage: ramp.stage ?? { ...D.ramp.stage },
      drainMs: ramp.drainMs ?? D.ramp.drainMs,
    },
    slo: slo ?? [],
    verdict: {
      confidence: verdict.confidence ?? D.verdict.confidence,
      confirmFailures: verdict.confirmFailures ?? D.verdict.confirmFailures,
      maxExtensions: verdict.maxExtensions ?? D.verdict.maxExtensions,
      bisectResolution: verdict.bisectResolution === undefined ? D.verdict.bisectResolution : verdict.bisectResolution,
      bisect: verdict.bisect ?? D.verdict.bisect,
      maxEventLoopDelayMs:
        verdict.maxEventLoopDelayMs === undefined ? D.verdict.maxEventLoopDelayMs : verdict.maxEventLoopDelayMs,
      minAchievedConcurrency: verdict.minAchievedConcurrency ?? D.verdict.minAchievedConcurrency,
    },
    stop: {
      onBreach: stop.onBreach ?? D.stop.onBreach,
      maxErrorRate: stop.maxErrorRate ?? D.stop.maxErrorRate,
    },
    limits: {
      maxDurationMs: limits.maxDurationMs ?? D.limits.maxDurationMs,
      maxRequests: limits.maxRequests ?? D.limits.maxRequests,
      maxOutputTokens: limits.maxOutputTokens ?? D.limits.maxOutputTokens,
    },
    report: {
      dir: report.dir ?? D.report.dir,
      headroom: report.headroom ?? D.report.headroom,
      efficiencyFraction: report.efficiencyFraction ?? D.report.efficiencyFraction,
      tiers: report.tiers ?? [...D.report.tiers],
      sizing: report.sizing ?? null,
    },
    ...(goodput ? { goodput } : {}),
    workers: workers ?? D.workers,
    ...(agents && agents.length > 0 ? { agents } : {}),
  };
}

/** Validates a parsed document. Returns the Profile when there is no error (problems may still hold warnings). */
export async function validateDocument(
  doc: unknown,
  ctx: ValidateContext,
): Promise<{ profile: Profile | null; problems: ProfileProblem[] }> {
  const c = new Checker(ctx);
  if (doc === undefined || doc === null) {
    c.error('', 'the profile is empty; it needs at least target, request and ramp (see docs/profile.md)');
    return { profile: null, problems: c.problems };
  }
  if (!isObj(doc)) {
    const what = Array.isArray(doc) ? 'a list' : `a single value (${describeValue(doc)})`;
    c.error('', `a profile must be a mapping of keys (name, target, request, ramp, slo, ...), got ${what}`);
    return { profile: null, problems: c.problems };
  }
  c.checkKeys(doc, '', Object.keys(KEY_TREE));

  // Checked in this order; the sort below is stable, so problems at one spot keep it.
  const sections: CheckedSections = {
    name: checkName(c, doc, ctx.absoluteFile),
    target: checkTarget(c, doc, ctx.env),
    request: await checkRequest(c, doc),
    ramp: checkRamp(c, doc),
    slo: checkSlo(c, doc),
    verdict: checkVerdict(c, doc),
    stop: checkStop(c, doc),
    limits: checkLimits(c, doc),
    report: checkReport(c, doc),
    goodput: undefined,
    workers: c.integer(doc, 'workers', '', 1, MAX_WORKERS),
    agents: checkAgents(c, doc),
  };
  sections.goodput = checkGoodput(c, doc, sections.request);
  crossCheck(c, sections.request, sections.slo);
  const profile = c.errorCount > 0 ? null : withDefaults(ctx.absoluteFile, sections);
  if (profile) checkDrainBound(c, doc, profile);

  c.problems.sort(
    (a, b) => (a.file === b.file ? 0 : a.file === ctx.displayFile ? -1 : 1) || a.line - b.line || a.col - b.col,
  );
  return { profile: c.errorCount > 0 ? null : profile, problems: c.problems };
}

/** A drain raised to a total timeout the user never set can make most of the time bound: say so, and where from. */
function checkDrainBound(c: Checker, doc: Obj, profile: Profile): void {
  const request = isObj(doc['request']) ? doc['request'] : {};
  const ramp = isObj(doc['ramp']) ? doc['ramp'] : {};
  const stage = isObj(ramp['stage']) ? ramp['stage'] : {};
  // Nothing set: the defaults fit together. A short stage or drain the user chose must not hide behind one.
  if (!has(ramp, 'drain') && !has(stage, 'duration')) return;
  if (isObj(request['timeouts']) && has(request['timeouts'], 'total')) return;
  const drain = effectiveDrainMs(profile);
  const { warmupMs, drainMs } = profile.ramp;
  if (drain <= drainMs || drain <= warmupMs + (profile.ramp.stage.durationMs ?? 0)) return;
  const total = formatDuration(profile.request.timeouts.totalMs);
  const raised = has(ramp, 'drain') ? `ramp.drain (${formatDuration(drainMs)})` : 'the drain';
  c.warn(
    has(ramp, 'drain') ? 'ramp.drain' : 'ramp',
    `each stage may wait up to ${formatDuration(drain)} for its last requests, more than its warm-up and window: request.timeouts.total is not set, so its default (${total}) + 1s raises ${raised} (no request is cut before its own timeout); set request.timeouts.total to the longest a request may take`,
  );
}
