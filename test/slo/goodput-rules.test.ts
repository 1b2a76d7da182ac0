// The rules a rate run adds: goodput (req/s), goodput_ratio (a proportion), and the dropped error class.
import { describe, expect, it } from 'vitest';
import { parseRule } from '../../src/slo/parse.ts';

describe('goodput rules', () => {
  it.each([
    ['goodput >= 8/s', { kind: 'throughput', metric: 'goodput', op: '>=', threshold: 8 }],
    ['goodput > 2.5', { kind: 'throughput', metric: 'goodput', op: '>', threshold: 2.5 }],
    ['goodput_ratio >= 95%', { kind: 'rate', metric: 'goodput_ratio', errorClass: null, op: '>=', threshold: 0.95 }],
    [
      'error_rate(dropped) < 1%',
      { kind: 'rate', metric: 'error_rate', errorClass: 'dropped', op: '<', threshold: 0.01 },
    ],
  ])('%s', (text, expected) => {
    expect(parseRule(text)).toMatchObject({ text, ...expected });
  });

  it.each([
    ['goodput(ttft) >= 8', 'goodput takes no argument'],
    ['goodput >= fast', 'threshold must be a non-negative number of good requests per second'],
    ['goodput_ratio(ttft) >= 95%', 'goodput_ratio takes no argument'],
    ['goodput_ratio >= 195%', 'threshold'],
    ['goodputs >= 1', 'did you mean "goodput"?'],
  ])('%s → %s', (text, message) => {
    expect(() => parseRule(text)).toThrow(message);
  });
});
