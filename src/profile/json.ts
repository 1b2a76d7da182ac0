// profile.json: the normalized profile under the YAML's snake_case names (api_key_env, max_tokens, warmup_ms), and
// back for `find-capacity report`. What holds the user's own keys (headers, simulator overrides, extra_body, the
// payloads) is copied as written; a profile.json written before this (camelCase) reads back the same.
import type { Profile } from './types.ts';

/** Paths (camelCase) whose keys are the user's, not the profile's. */
const AS_WRITTEN = new Set(['target.headers', 'target.simulator.overrides', 'request.extraBody', 'request.payloads']);

const toSnake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function renameKeys(value: unknown, rename: (k: string) => string, path: string): unknown {
  if (AS_WRITTEN.has(path)) return value;
  if (Array.isArray(value)) return value.map((v) => renameKeys(v, rename, path));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const camel = toCamel(k);
      return [rename(k), renameKeys(v, rename, path ? `${path}.${camel}` : camel)];
    }),
  );
}

export function profileToJson(profile: Profile): unknown {
  return renameKeys(profile, toSnake, '');
}

export function profileFromJson(json: unknown): Profile {
  return renameKeys(json, toCamel, '') as Profile;
}
