// Resolves the target of a run: the API key, the built-in simulator when asked for, and a reachable base URL.
import { join } from 'node:path';
import net from 'node:net';
import { ToolError } from '../errors.ts';
import type { RequestRecord } from '../model/record.ts';
import type { Profile } from '../profile/types.ts';
import { startSimulator, type RunningSimulator } from '../sim/index.ts';
import { makeRedactor, redactUrl, secretHeaderValues } from '../util/secrets.ts';
import { resolveMetricsUrl } from './server-metrics.ts';
import { GROUND_TRUTH_FILE, GroundTruthReader, measureTtftOverhead } from './ttft-overhead.ts';

export interface Target {
  baseUrl: string;
  /** Null without target.api_key_env: then no Authorization header is sent at all. */
  apiKey: string | null;
  /** The profile's headers with `{env: NAME}` values read from the environment. */
  headers: Record<string, string>;
  /** Credential values only: redacting every header value would also blank harmless text. */
  secrets: (string | null)[];
  redact: (text: string) => string;
  /** The simulator preset when the target is the built-in simulator. */
  simulator: string | null;
  /** Client TTFT minus the simulator's for the successful window records; null without ground truth. */
  measureOverhead: ((records: readonly RequestRecord[]) => Promise<number[] | null>) | null;
  /** The server's /metrics to probe and scrape; null or absent: none (turned off, or a test's target). */
  metricsUrl?: string | null;
  close(): Promise<void>;
}

/** What a run sends to prove who it is: the API key and the headers, resolved from the environment. */
export interface Credentials {
  apiKey: string | null;
  headers: Record<string, string>;
  /** Every value output must never show: the key, credential headers, and every header read from a variable. */
  secrets: string[];
}

function missing(name: string, key: string): ToolError {
  return new ToolError(
    'missing_api_key',
    `environment variable ${name} (${key}) is not set or empty`,
    `export ${name}=... before running`,
  );
}

/** Reads the key and `{env: NAME}` header values; a run refuses to start without them (`strict`). */
export function readCredentials(profile: Profile, env: NodeJS.ProcessEnv, strict = true): Credentials {
  const read = (name: string, key: string): string | null => {
    const value = env[name];
    if (value) return value;
    if (strict) throw missing(name, key);
    return null;
  };
  const name = profile.target.apiKeyEnv;
  const apiKey = name ? read(name, 'target.api_key_env') : null;
  const headers: Record<string, string> = {};
  const fromEnv: string[] = [];
  for (const [k, v] of Object.entries(profile.target.headers)) {
    if (typeof v === 'string') headers[k] = v;
    else {
      const value = read(v.env, `target.headers.${k}`);
      if (value !== null) fromEnv.push((headers[k] = value));
    }
  }
  const secrets = [...(apiKey ? [apiKey] : []), ...secretHeaderValues(headers), ...fromEnv];
  return { apiKey, headers, secrets };
}

/** Starts the simulator if the profile asks for one (its ground truth goes into `runDir`) and checks reachability. */
export async function openTarget(profile: Profile, env: NodeJS.ProcessEnv, runDir: string): Promise<Target> {
  const { apiKey, headers, secrets } = readCredentials(profile, env);
  const simConfig = profile.target.simulator;
  let sim: RunningSimulator | null = null;
  let reader: GroundTruthReader | null = null;
  const close = async () => {
    await reader?.close().catch(() => {});
    await sim?.stop();
  };
  try {
    if (simConfig) {
      // A child process, not a worker thread: a simulator thread here adds 5–25 ms of event-loop delay (measured).
      const groundTruthPath = join(runDir, GROUND_TRUTH_FILE);
      const overrides = simConfig.overrides as Record<string, never>;
      sim = await startSimulator({ preset: simConfig.preset, overrides, mode: 'process', groundTruthPath });
      reader = await GroundTruthReader.open(groundTruthPath);
    }
    const running = sim;
    const groundTruth = reader;
    const baseUrl = running ? running.baseUrl : profile.target.baseUrl!;
    return {
      baseUrl,
      apiKey,
      headers,
      secrets,
      redact: makeRedactor(secrets),
      simulator: simConfig?.preset ?? null,
      measureOverhead:
        running && groundTruth
          ? (records) => measureTtftOverhead(records, () => running.flushGroundTruth(), groundTruth)
          : null,
      metricsUrl: resolveMetricsUrl(profile.target.metricsUrl, baseUrl),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Fails fast with one clear line when nothing listens at the target. */
export async function checkReachable(baseUrl: string, timeoutMs = 5000): Promise<void> {
  const u = new URL(baseUrl);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const hint = 'check base_url and that the service is up';
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    const timer = setTimeout(() => {
      sock.destroy();
      const message = `target unreachable: no TCP connection to ${redactUrl(baseUrl)} within ${timeoutMs} ms`;
      reject(new ToolError('target_unreachable', message, hint));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const message = `target unreachable: ${redactUrl(baseUrl)} (${err.code ?? err.message})`;
      reject(new ToolError('target_unreachable', message, hint));
    });
  });
}
