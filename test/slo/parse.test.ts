import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES } from '../../src/model/record.ts';
import { parseRule } from '../../src/slo/parse.ts';
import type { SloRule } from '../../src/slo/types.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Valid = [string, DistributiveOmit<SloRule, 'text'>];

const VALID: Valid[] = [
  ['p99(ttft) < 1s', { kind: 'latency', stat: 'p99', metric: 'ttft', op: '<', thresholdMs: 1000 }],
  ['p50(ttfb) <= 800ms', { kind: 'latency', stat: 'p50', metric: 'ttfb', op: '<=', thresholdMs: 800 }],
  ['p95(e2e) < 1.5s', { kind: 'latency', stat: 'p95', metric: 'e2e', op: '<', thresholdMs: 1500 }],
  ['p90(tpot) < 50ms', { kind: 'latency', stat: 'p90', metric: 'tpot', op: '<', thresholdMs: 50 }],
  ['max(itl) < 2s', { kind: 'latency', stat: 'max', metric: 'itl', op: '<', thresholdMs: 2000 }],
  ['p99(ttfo) < 5s', { kind: 'latency', stat: 'p99', metric: 'ttfo', op: '<', thresholdMs: 5000 }],
  ['avg(e2e) > 1m', { kind: 'latency', stat: 'avg', metric: 'e2e', op: '>', thresholdMs: 60_000 }],
  ['p99(e2e) >= 1m30s', { kind: 'latency', stat: 'p99', metric: 'e2e', op: '>=', thresholdMs: 90_000 }],
  ['  p99 ( ttft )<1s  ', { kind: 'latency', stat: 'p99', metric: 'ttft', op: '<', thresholdMs: 1000 }],
  ['p99(ttft)<=0.5s', { kind: 'latency', stat: 'p99', metric: 'ttft', op: '<=', thresholdMs: 500 }],
  ['P99(TTFT) < 1s', { kind: 'latency', stat: 'p99', metric: 'ttft', op: '<', thresholdMs: 1000 }],
  ['success_rate >= 99%', { kind: 'rate', metric: 'success_rate', errorClass: null, op: '>=', threshold: 0.99 }],
  ['success_rate>=0.999', { kind: 'rate', metric: 'success_rate', errorClass: null, op: '>=', threshold: 0.999 }],
  ['success_rate > 99.9 %', { kind: 'rate', metric: 'success_rate', errorClass: null, op: '>', threshold: 0.999 }],
  ['error_rate < 1%', { kind: 'rate', metric: 'error_rate', errorClass: null, op: '<', threshold: 0.01 }],
  ['error_rate <= 0.5%', { kind: 'rate', metric: 'error_rate', errorClass: null, op: '<=', threshold: 0.005 }],
  [
    'error_rate(http_429) < 1%',
    { kind: 'rate', metric: 'error_rate', errorClass: 'http_429', op: '<', threshold: 0.01 },
  ],
  [
    'error_rate( timeout_first_token ) <= 0',
    { kind: 'rate', metric: 'error_rate', errorClass: 'timeout_first_token', op: '<=', threshold: 0 },
  ],
  ['qps >= 10', { kind: 'throughput', metric: 'qps', op: '>=', threshold: 10 }],
  ['qps > 2.5/s', { kind: 'throughput', metric: 'qps', op: '>', threshold: 2.5 }],
  ['output_tps >= 1500', { kind: 'throughput', metric: 'output_tps', op: '>=', threshold: 1500 }],
];

const INVALID: [string, string][] = [
  ['', 'must not be empty'],
  ['   ', 'must not be empty'],
  ['p99(ttft)', 'missing a comparison operator'],
  ['p99(ttft) 1s', 'missing a comparison operator'],
  ['p99(ttft) = 1s', 'unknown operator "="'],
  ['p99(ttft) == 1s', 'unknown operator "=="'],
  ['p99(ttft) =< 1s', 'did you mean "<="?'],
  ['p99(ttft) => 1s', 'did you mean ">="?'],
  ['p99(ttft) != 1s', 'unknown operator "!="'],
  ['< 1s', 'missing what to measure'],
  ['p99(ttft) <', 'missing a threshold'],
  ['p99(ttf) < 1s', 'unknown metric "ttf"; did you mean "ttft"?'],
  ['p99(tftt) < 1s', 'did you mean "ttft"?'],
  ['p99(latency) < 1s', 'unknown metric "latency"; metrics: ttft, ttfb, e2e, tpot, itl'],
  ['p98(ttft) < 1s', 'unsupported percentile "p98"'],
  ['p99.9(ttft) < 1s', 'cannot read "p99.9(ttft)"'],
  ['pp99(ttft) < 1s', 'did you mean "p99(ttft)"?'],
  ['avrg(ttft) < 1s', 'did you mean "avg(ttft)"?'],
  ['mean(ttft) < 1s', 'unknown rule subject "mean"'],
  ['ttft < 1s', '"ttft" needs a statistic, e.g. p99(ttft)'],
  ['ttft_p99 < 1s', 'did you mean "p99(ttft)"?'],
  ['p99 < 1s', '"p99" needs a metric in parentheses'],
  ['p99(ttft) < 1', 'threshold needs a unit, got "1" (write e.g. 1s or 1ms)'],
  ['p99(ttft) < 1sec', 'threshold must be a duration with a unit'],
  ['p99(ttft) < -1s', 'threshold must not be negative'],
  ['p99(ttft) < 0s', 'threshold must be greater than 0'],
  ['p99(ttft) < 99%', 'threshold must be a duration'],
  ['success_rate >= 99', 'did you mean 99%?'],
  ['success_rate >= 101%', 'must be at most 100%'],
  ['success_rate >= 1.5', 'did you mean 1.5%?'],
  ['success_rate >= high', 'must be a percentage'],
  ['success_rate(http_429) < 1%', 'success_rate takes no argument'],
  ['sucess_rate >= 99%', 'did you mean "success_rate"?'],
  ['error_rate(http_492) < 1%', 'unknown error class "http_492"; did you mean "http_429"?'],
  ['error_rate(boom) < 1%', 'unknown error class "boom"'],
  ['qps >= fast', 'threshold must be a non-negative number of successful requests per second'],
  ['qps >= -3', 'threshold must be a non-negative number'],
  ['qps(ttft) >= 3', 'qps takes no argument'],
  ['output_tps >= 1k', 'threshold must be a non-negative number of output tokens per second'],
  ['througput >= 3', 'unknown rule subject "througput"'],
  ['p99(ttft) < 1s and success_rate > 99%', 'threshold must be a duration'],
];

describe('parseRule', () => {
  it.each(VALID)('%s', (text, expected) => {
    expect(parseRule(text)).toEqual({ ...expected, text: text.trim() });
  });

  it.each(INVALID)('rejects %j', (text, fragment) => {
    expect(() => parseRule(text)).toThrow(fragment);
  });

  it('accepts every error class', () => {
    for (const cls of ERROR_CLASSES) expect(parseRule(`error_rate(${cls}) < 1%`)).toMatchObject({ errorClass: cls });
  });

  it('lists the valid choices when it cannot suggest one', () => {
    expect(() => parseRule('zzz(ttft) < 1s')).toThrow(
      /expected <stat>\(<metric>\) with stat avg, p50, p90, p95, p99, max/,
    );
  });
});
