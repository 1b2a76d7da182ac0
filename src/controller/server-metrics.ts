// The server's /metrics, scraped once a second during each stage (docs/server-metrics.md): probed once at the
// start; a server without it changes nothing. Samples go to server-metrics.jsonl through RunFiles.
import type { ServerEngine, ServerMetricsSample, ServerMetricsSource } from '../model/server-metrics.ts';
import type { Clock, Timer } from '../util/clock.ts';
import { redactUrl } from '../util/secrets.ts';
import { mapPrometheusText, type MappedScrape } from './prometheus-map.ts';
import type { FoldSample } from './server-fold.ts';

export const SCRAPE_INTERVAL_MS = 1000;
const SCRAPE_TIMEOUT_MS = 3000;

/** The URL to scrape: the configured one, none when turned off, else the origin of base_url + /metrics. */
export function resolveMetricsUrl(setting: string | false | null | undefined, baseUrl: string): string | null {
  if (setting === false) return null;
  if (typeof setting === 'string') return setting;
  try {
    return new URL('/metrics', baseUrl).toString();
  } catch {
    return null;
  }
}

/** What the chat requests carry: the API key as a bearer token and the profile's headers. */
export function targetAuthHeaders(apiKey: string | null, headers: Record<string, string>): Record<string, string> {
  return { ...(apiKey === null || apiKey === 'EMPTY' ? {} : { authorization: `Bearer ${apiKey}` }), ...headers };
}

export interface ScrapeEndpoint {
  url: string;
  /** Sent only when the server answers 401/403 without them. */
  authHeaders: Record<string, string>;
  clock: Clock;
  /** Removes secrets from any text that is shown or stored. */
  redact: (text: string) => string;
  fetch?: typeof globalThis.fetch;
}

type Fetched = { status: number; text: string } | { status: null; error: string };

async function fetchText(e: ScrapeEndpoint, headers: Record<string, string>): Promise<Fetched> {
  const abort = new AbortController();
  const timer = e.clock.setTimeout(() => abort.abort(), SCRAPE_TIMEOUT_MS).unref();
  try {
    const res = await (e.fetch ?? globalThis.fetch)(e.url, { headers, signal: abort.signal });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    if (abort.signal.aborted) return { status: null, error: `no answer within ${SCRAPE_TIMEOUT_MS} ms` };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { status: null, error: cause?.code ?? cause?.message ?? (err as Error).message };
  } finally {
    e.clock.clear(timer);
  }
}

export type ProbeResult = { ok: true; auth: boolean; engine: ServerEngine } | { ok: false; detail: string };

/** One request (two when the server asks for credentials): does the URL answer Prometheus text? */
export async function probeServerMetrics(e: ScrapeEndpoint): Promise<ProbeResult> {
  let auth = false;
  let got = await fetchText(e, {});
  if (got.status === 401 || got.status === 403) {
    if (Object.keys(e.authHeaders).length === 0) return { ok: false, detail: `answered HTTP ${got.status}` };
    auth = true;
    got = await fetchText(e, e.authHeaders);
  }
  if (got.status === null) return { ok: false, detail: e.redact(got.error) };
  if (got.status !== 200) return { ok: false, detail: `answered HTTP ${got.status}` };
  let mapped: MappedScrape;
  try {
    mapped = mapPrometheusText(got.text);
  } catch {
    mapped = { engine: 'other', values: {}, raw: {}, families: 0 };
  }
  if (mapped.families === 0) return { ok: false, detail: 'answered without Prometheus metrics' };
  return { ok: true, auth, engine: mapped.engine };
}

export interface ScraperOptions extends ScrapeEndpoint {
  auth: boolean;
  onSample: (sample: ServerMetricsSample) => void;
  /** Called once, at the first scrape that fails after a good probe. */
  onFailure: (detail: string) => void;
  intervalMs?: number;
}

export class ServerMetricsScraper {
  /** Light copies of the samples (no raw series): what the per-stage fold reads. */
  readonly samples: FoldSample[] = [];
  private timer: Timer | null = null;
  private inflight: Promise<void> | null = null;
  private stage = -1;
  private failed = false;

  constructor(private readonly o: ScraperOptions) {}

  /** Scrapes now and then every interval, tagging samples with `stage`, until stop(). */
  start(stage: number): void {
    this.stage = stage;
    this.tick();
    this.timer = this.o.clock.setInterval(() => this.tick(), this.o.intervalMs ?? SCRAPE_INTERVAL_MS).unref();
  }

  /** Stops the timer and waits for a scrape in flight. */
  async stop(): Promise<void> {
    this.o.clock.clear(this.timer);
    this.timer = null;
    await this.inflight;
  }

  // A scrape still in flight at the next tick makes that tick skip: never two at once against a slow server.
  private tick(): void {
    if (this.inflight !== null) return;
    this.inflight = this.scrape(this.stage).finally(() => (this.inflight = null));
  }

  private async scrape(stage: number): Promise<void> {
    const { clock } = this.o;
    const sentAt = clock.now();
    const got = await fetchText(this.o, this.o.auth ? this.o.authHeaders : {});
    let mapped: MappedScrape | null = null;
    if (got.status === 200) {
      try {
        mapped = mapPrometheusText(got.text);
      } catch {
        mapped = null;
      }
    }
    if (mapped === null || mapped.families === 0) {
      const why = got.status === null ? got.error : `HTTP ${got.status}`;
      if (!this.failed) this.o.onFailure(this.o.redact(mapped ? 'an answer without metrics' : why));
      this.failed = true;
      return;
    }
    const t = Math.round(((sentAt + clock.now()) / 2) * 1000) / 1000;
    const sample: ServerMetricsSample = {
      type: 'sample',
      stage,
      t,
      engine: mapped.engine,
      values: mapped.values,
      raw: mapped.raw,
    };
    this.samples.push({ stage, t, engine: sample.engine, values: sample.values });
    this.o.onSample(sample);
  }
}

/** The first line of server-metrics.jsonl, with the URL as it may be shown. */
export function sourceLine(url: string, engine: ServerEngine, auth: boolean, redact: (s: string) => string) {
  const line: ServerMetricsSource = { type: 'source', url: redact(redactUrl(url)), engine, auth };
  return line;
}

/** Where the samples go: RunFiles, the one writer of the run directory. */
export interface ServerMetricsSink {
  openServerMetrics(source: ServerMetricsSource): void;
  appendServerMetrics(sample: ServerMetricsSample): void;
}

export interface ServerMetricsRun {
  scraper: ServerMetricsScraper;
  source: ServerMetricsSource;
}

/** Probes `url` once; a scraper when it answers Prometheus text, else null after one notice saying why. */
export async function startServerMetrics(o: {
  url: string | null | undefined;
  apiKey: string | null;
  headers: Record<string, string>;
  clock: Clock;
  redact: (text: string) => string;
  sink: ServerMetricsSink;
  notice: (message: string) => void;
  fetch?: typeof globalThis.fetch;
}): Promise<ServerMetricsRun | null> {
  if (!o.url) return null;
  const endpoint: ScrapeEndpoint = {
    url: o.url,
    authHeaders: targetAuthHeaders(o.apiKey, o.headers),
    clock: o.clock,
    redact: o.redact,
    fetch: o.fetch,
  };
  const shown = o.redact(redactUrl(o.url));
  const probe = await probeServerMetrics(endpoint);
  if (!probe.ok) {
    o.notice(`server metrics: ${shown} ${probe.detail}; the run goes on without them`);
    return null;
  }
  const source = sourceLine(o.url, probe.engine, probe.auth, o.redact);
  o.sink.openServerMetrics(source);
  const names = probe.engine === 'other' ? 'no known engine names: kept raw' : `${probe.engine} names`;
  o.notice(`server metrics: scraping ${shown} every second during each stage (${names})`);
  const scraper = new ServerMetricsScraper({
    ...endpoint,
    auth: probe.auth,
    onSample: (sample) => o.sink.appendServerMetrics(sample),
    onFailure: (detail) => o.notice(`server metrics: a scrape failed (${detail}); the samples it missed are left out`),
  });
  return { scraper, source };
}
