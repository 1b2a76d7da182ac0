// A rate run's capacity is capacity.rate (its concurrency is null): the exit code must read the rate.
import { describe, expect, it } from 'vitest';
import { exitCodeForCapacity } from '../../src/cli/main.ts';

describe('exit codes of a rate run', () => {
  it('a breaker or 429 stop above a passing rate is success; with no passing rate it is a first-stage failure', () => {
    const base = { concurrency: null, stopDetail: '', bracket: null };
    const ok = exitCodeForCapacity({ ...base, rate: 4.5, stopReason: 'error_rate_breaker' });
    expect(ok).toBe(exitCodeForCapacity({ ...base, rate: 4.5, stopReason: 'knee_found' }));
    expect(exitCodeForCapacity({ ...base, rate: 4.5, stopReason: 'rate_limited' })).toBe(ok);
    expect(exitCodeForCapacity({ ...base, rate: null, stopReason: 'rate_limited' })).toBe(
      exitCodeForCapacity({ ...base, rate: null, stopReason: 'failed_at_first_stage' }),
    );
    expect(exitCodeForCapacity({ ...base, rate: null, stopReason: 'error_rate_breaker' })).not.toBe(ok);
  });
});
