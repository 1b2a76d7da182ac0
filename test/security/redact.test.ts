// The redaction primitives every output goes through (table tests), and the base URL split that keeps a
// query string (Azure's api-version) out of the request path.
import { describe, expect, it } from 'vitest';
import {
  REDACTED,
  makeRedactor,
  redactDeep,
  redactHeaders,
  redactUrl,
  secretHeaderValues,
} from '../../src/util/secrets.ts';
import { splitBaseUrl } from '../../src/load/transport.ts';

describe('makeRedactor', () => {
  const key = 'k3y-VALUE+with/odd=chars';
  const redact = makeRedactor([
    key,
    'Bearer tok_1234567890abcdef',
    'session=cookievalue123; theme=dark',
    'true',
    '1234',
    null,
    undefined,
    '',
  ]);

  it.each([
    ['the exact value', `bad key ${key}!`, `bad key ${REDACTED}!`],
    ['its URL-encoded form', `url ?k=${encodeURIComponent(key)}`, `url ?k=${REDACTED}`],
    [
      'the token of a "Bearer <token>" header value, alone',
      'invalid token tok_1234567890abcdef',
      `invalid token ${REDACTED}`,
    ],
    ['one value of a cookie', 'unknown session cookievalue123', `unknown session ${REDACTED}`],
    ['any sk- key', 'key sk-proj-abcdefgh123 rejected', `key ${REDACTED} rejected`],
    ['any Bearer credential', 'got Authorization: Bearer zzzzzzzz', `got Authorization: Bearer ${REDACTED}`],
    [
      'key and token query parameters',
      'GET /v1?api-key=abc&token=def&api-version=1',
      `GET /v1?api-key=${REDACTED}&token=${REDACTED}&api-version=1`,
    ],
  ])('removes %s', (_what, input, output) => {
    expect(redact(input)).toBe(output);
  });

  it('removes a JSON-escaped value', () => {
    const quoted = makeRedactor(['pa"ss\\word1']);
    expect(quoted(JSON.stringify({ m: 'echo pa"ss\\word1' }))).toBe(`{"m":"echo ${REDACTED}"}`);
  });

  it('leaves values that cannot be secrets (and would corrupt JSON) alone, and short words of a cookie', () => {
    expect(redact('{"ok":true,"n":1234,"theme":"dark"}')).toBe('{"ok":true,"n":1234,"theme":"dark"}');
  });
});

describe('headers, URLs and JSON', () => {
  it('redacts every credential-looking header, whatever its spelling', () => {
    const h = {
      Authorization: 'a',
      'Proxy-Authorization': 'b',
      'x-api-key': 'c',
      'api-key': 'd',
      'Ocp-Apim-Subscription-Key': 'e',
      'X-Auth-Token': 'f',
      Cookie: 'g',
      'X-Goog-Api-Key': 'h',
      'X-Amz-Security-Token': 'i',
      'Content-Type': 'application/json',
      'X-Team': 'capacity',
    };
    expect(redactHeaders(h)).toEqual({
      Authorization: REDACTED,
      'Proxy-Authorization': REDACTED,
      'x-api-key': REDACTED,
      'api-key': REDACTED,
      'Ocp-Apim-Subscription-Key': REDACTED,
      'X-Auth-Token': REDACTED,
      Cookie: REDACTED,
      'X-Goog-Api-Key': REDACTED,
      'X-Amz-Security-Token': REDACTED,
      'Content-Type': 'application/json',
      'X-Team': 'capacity',
    });
    expect(secretHeaderValues(h)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
  });

  it('redactUrl drops credentials and secret query parameters, keeps the rest', () => {
    expect(redactUrl('https://u:p@h.example/v1?api_key=s1&token=s2&api-version=2024')).toBe(
      `https://h.example/v1?api_key=${REDACTED}&token=${REDACTED}&api-version=2024`,
    );
  });

  it('redactDeep redacts strings (keys too) and keeps the structure valid JSON', () => {
    const redact = makeRedactor(['secret-value-1']);
    const out = redactDeep({ a: 'x secret-value-1', 'secret-value-1': [true, 3, null, 'secret-value-1'] }, redact);
    expect(out).toEqual({ a: `x ${REDACTED}`, [REDACTED]: [true, 3, null, REDACTED] });
  });
});

describe('splitBaseUrl', () => {
  it.each([
    ['http://h:1/v1', 'http://h:1/v1', undefined],
    [
      'https://r.openai.azure.com/openai/deployments/d?api-version=2024-06-01',
      'https://r.openai.azure.com/openai/deployments/d',
      { 'api-version': '2024-06-01' },
    ],
    ['http://h/v1/?a=1&b=2', 'http://h/v1', { a: '1', b: '2' }],
  ])('%s', (input, baseURL, defaultQuery) => {
    expect(splitBaseUrl(input)).toEqual({ baseURL, defaultQuery });
  });
});
