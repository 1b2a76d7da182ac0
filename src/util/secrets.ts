// Secrets (API keys, auth headers, cookies, key/token query parameters) never reach a file,
// a report, a log or an error message: every text that leaves the process goes through a redactor.

// Any name with "key" in it: Azure API Management's Ocp-Apim-Subscription-Key carries no "api-key".
const SECRET_HEADER = /auth|key|token|cookie|secret|session|passw|signature|credential|bearer/i;
const SECRET_QUERY = /^(api[-_]?key|key|token|access[-_]?token|auth|sig|signature|secret|password|code)$/i;

export const REDACTED = '[REDACTED]';

export function isSecretHeader(name: string): boolean {
  return SECRET_HEADER.test(name);
}

/** Returns a function that replaces every known secret value and secret-looking token in a text. */
export function makeRedactor(secrets: readonly (string | null | undefined)[]): (text: string) => string {
  const values = [...new Set(secrets.flatMap(secretForms))].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out
      .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/gi, `$1 ${REDACTED}`)
      .replace(/\bsk-[A-Za-z0-9_-]{6,}/g, REDACTED)
      .replace(
        /([?&](?:api[-_]?key|key|token|access[-_]?token|auth|sig|signature|secret|password)=)[^&\s"']+/gi,
        `$1${REDACTED}`,
      );
  };
}

/**
 * A secret as it may come back in a server's error text: whole, URL-encoded, JSON-escaped, and its long parts
 * (the token of "Bearer <token>", each value of a cookie "a=<v1>; b=<v2>").
 */
function secretForms(secret: string | null | undefined): string[] {
  if (typeof secret !== 'string' || secret.length < 4) return [];
  const out = new Set<string>([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
  for (const part of secret.split(/[\s;,=]+/)) if (part.length >= 8) out.add(part);
  // A value like "true" or "1234" is no secret, and replacing it would corrupt JSON that goes through the redactor.
  return [...out].filter((v) => v.length >= 4 && !/^(true|false|null|[-+]?[\d.]{1,7})$/i.test(v));
}

/** The values of the headers whose names say they carry credentials (what a redactor must know). */
export function secretHeaderValues(headers: Record<string, unknown>): string[] {
  return Object.entries(headers).flatMap(([k, v]) => (isSecretHeader(k) && typeof v === 'string' ? [v] : []));
}

/** Redacts every string (keys too) inside a JSON-able value, leaving its structure intact. */
export function redactDeep<T>(value: T, redact: (text: string) => string): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactDeep(v, redact)])) as T;
  }
  return value;
}

/** A URL with user info and secret-looking query parameters removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    for (const k of [...u.searchParams.keys()]) if (SECRET_QUERY.test(k)) u.searchParams.set(k, REDACTED);
    return u.toString().replace(/%5BREDACTED%5D/g, REDACTED);
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/** Credential header values replaced; a value that is no text (a reference to where it comes from) is kept. */
export function redactHeaders<V>(headers: Record<string, V>): Record<string, V | string> {
  const out: Record<string, V | string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = isSecretHeader(k) && typeof v === 'string' ? REDACTED : v;
  return out;
}
