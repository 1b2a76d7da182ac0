// The transport's view of a profile: the target and the request bodies as plain data (src/load knows no Profile).
import type { TransportConfig } from '../load/transport.ts';
import type { Profile } from '../profile/types.ts';
import { plainWorkload, type Workload } from './workload.ts';

export function transportConfig(
  profile: Profile,
  baseUrl: string,
  apiKey: string,
  workload: Workload = plainWorkload(profile),
): TransportConfig {
  const req = profile.request;
  const base: Record<string, unknown> = { ...req.extraBody, model: profile.target.model, stream: req.stream };
  if (req.maxTokens !== null) base.max_tokens = req.maxTokens;
  if (req.temperature !== null) base.temperature = req.temperature;
  if (req.stream) base.stream_options = { include_usage: true };
  return {
    baseUrl,
    apiKey,
    headers: profile.target.headers,
    body: { base, payloads: workload.payloads },
    endpoint: req.endpoint ?? 'chat',
    stream: req.stream,
    timeouts: req.timeouts,
  };
}
