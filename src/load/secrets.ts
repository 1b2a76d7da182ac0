// Secrets (API keys, auth headers, cookies, key/token query parameters) never reach a file,
// a report, a log or an error message: every text that leaves the process goes through a redactor.

const SECRET_HEADER = /auth|api[-_]?key|token|cookie|secret|session|password|signature/i;
const SECRET_QUERY = /^(api[-_]?key|key|token|access[-_]?token|auth|sig|signature|secret|password|code)$/i;

export const REDACTED = '[REDACTED]';

export function isSecretHeader(name: string): boolean {
  return SECRET_HEADER.test(name);
}

/** Returns a function that replaces every known secret value and secret-looking token in a text. */
export function makeRedactor(secrets: readonly (string | null | undefined)[]): (text: string) => string {
  const values = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4))].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out
      .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/gi, `$1 ${REDACTED}`)
      .replace(/\bsk-[A-Za-z0-9_-]{6,}/g, REDACTED)
      .replace(/([?&](?:api[-_]?key|key|token|access[-_]?token|sig|signature)=)[^&\s"']+/gi, `$1${REDACTED}`);
  };
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

export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = isSecretHeader(k) ? REDACTED : v;
  return out;
}
