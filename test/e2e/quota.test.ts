// A hosted API's quota: a loopback server that admits two requests at a time and refuses the rest with HTTP 429
// and x-ratelimit-* headers. The records keep the headers, and the report calls the knee a quota limit, quoted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCapacitySearch } from '../../src/controller/run.ts';
import type { RequestRecord } from '../../src/model/record.ts';
import { loadProfile } from '../../src/profile/load.ts';
import { tempDir, writeProfile } from '../helpers.ts';
import { loopbackServer } from '../reliability/helpers.ts';
import { baseUrlProfile, streamCompletion } from './loopback-llm.ts';

const QUOTA = 2;

describe('hosted-API quotas', () => {
  it('tells a quota limit from a latency knee and quotes the quota', async () => {
    let inFlight = 0;
    const server = await loopbackServer((req, res) => {
      if (req.url !== '/v1/chat/completions') {
        res.writeHead(404);
        return res.end();
      }
      if (inFlight >= QUOTA) {
        res.writeHead(429, {
          'content-type': 'application/json',
          'retry-after': '1',
          'x-ratelimit-limit-requests': String(QUOTA),
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '1s',
          'x-ratelimit-limit-tokens': '10000',
          'x-ratelimit-remaining-tokens': '9000',
        });
        return res.end('{"error":{"message":"Rate limit reached for requests","type":"requests"}}');
      }
      inFlight++;
      res.on('close', () => inFlight--);
      streamCompletion(res, 4);
    });
    try {
      const dir = tempDir('fc-quota-');
      const yaml = baseUrlProfile(server.url, '', {
        concurrency: '[1, 2, 4]',
        slo: ['p99(ttft) < 2s', 'success_rate >= 95%'],
      });
      const { profile } = await loadProfile(writeProfile(dir, 'p.yaml', yaml), { env: {} });
      const result = await runCapacitySearch({ profile, env: {}, outDir: dir });
      expect(result.capacity.concurrency).toBe(2);

      const records = readFileSync(join(result.runDir, 'requests.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as RequestRecord);
      const limited = records.filter((r) => r.errorClass === 'http_429');
      expect(limited.length).toBeGreaterThan(0);
      for (const r of limited) {
        expect(r.rateLimit).toEqual({
          limitRequests: 2,
          remainingRequests: 0,
          resetRequestsS: 1,
          limitTokens: 10000,
          remainingTokens: 9000,
        });
        expect(r.retryAfterS).toBe(1);
      }
      expect(records.filter((r) => r.ok).every((r) => !('rateLimit' in r))).toBe(true);

      const at4 = result.summary.stages.filter((s) => s.concurrency === 4);
      expect(at4.length).toBeGreaterThan(0);
      expect(at4[0]!.rate_limit).toMatchObject({
        remaining_requests_zero: at4[0]!.rate_limit!.http_429,
        limit_requests: 2,
      });
      const knee = result.summary.knee_explanation!;
      expect(knee).toMatchObject({ cause: 'quota', below: 2, above: 4 });
      expect(knee.sentence).toMatch(
        /^At 4, \d+ of \d+ requests got HTTP 429 with x-ratelimit-remaining-requests 0 \(limit 2 requests, reset 1 s\): a quota limit of the API, not a latency knee/,
      );
      const html = readFileSync(join(result.runDir, 'report.html'), 'utf8');
      expect(html.includes('id="knee-explanation" data-cause="quota"')).toBe(true);
      expect(html.includes('x-ratelimit-remaining-requests 0 (limit 2 requests, reset 1 s)')).toBe(true);
    } finally {
      await server.close();
    }
  });
});
