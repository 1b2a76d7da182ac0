// The transport's view of a profile: the target and the request bodies as plain data (src/load knows no Profile).
import type { TransportConfig } from '../load/transport.ts';
import type { Profile } from '../profile/types.ts';
import { plainWorkload, type Workload } from './workload.ts';

/**
 * `apiKey` null: no key. The SDK insists on one, so it gets a placeholder, and a null Authorization header (which
 * the SDK drops) keeps the placeholder off the wire. `headers`: the profile's, resolved (default: those written).
 */
export function transportConfig(
  profile: Profile,
  baseUrl: string,
  apiKey: string | null,
  headers: Record<string, string> = writtenHeaders(profile),
  workload: Workload = plainWorkload(profile),
): TransportConfig {
  const req = profile.request;
  const base: Record<string, unknown> = { ...req.extraBody, model: profile.target.model, stream: req.stream };
  if (req.maxTokens !== null) base.max_tokens = req.maxTokens;
  if (req.temperature !== null) base.temperature = req.temperature;
  if (req.stream) base.stream_options = { include_usage: true };
  return {
    baseUrl,
    apiKey: apiKey ?? 'EMPTY',
    headers: apiKey === null && !hasAuthorization(headers) ? { ...headers, Authorization: null } : headers,
    body: { base, payloads: workload.payloads },
    endpoint: req.endpoint ?? 'chat',
    stream: req.stream,
    timeouts: req.timeouts,
  };
}

function writtenHeaders(profile: Profile): Record<string, string> {
  return Object.fromEntries(
    Object.entries(profile.target.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])),
  );
}

const hasAuthorization = (headers: Record<string, string>) =>
  Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
