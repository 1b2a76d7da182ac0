// The machine a run measured from, as the report and `compare` both word it.
import { describe, expect, it } from 'vitest';
import { cpusText, nodeText } from '../../src/report/environment.ts';

describe('environment wording', () => {
  it('names the CPUs available to find-capacity only when it was pinned to fewer than the machine has', () => {
    expect(cpusText({ node: 'v20', platform: 'linux x64', cpus: 2, cpus_available: 1 })).toBe(
      '2 CPUs (1 available to find-capacity)',
    );
    expect(cpusText({ node: 'v20', platform: 'linux x64', cpus: 2, cpus_available: 2 })).toBe('2 CPUs');
    expect(cpusText({ node: 'v20', platform: 'linux x64', cpus: 1 })).toBe('1 CPU');
  });

  it('says single-threaded GC when the run relaunched itself with it, and nothing for older runs', () => {
    expect(nodeText({ node: 'v20.20.2', platform: 'linux x64', cpus: 1, gc: 'single-threaded' })).toBe(
      'v20.20.2, single-threaded GC',
    );
    expect(nodeText({ node: 'v20.20.2', platform: 'linux x64', cpus: 4, gc: 'default' })).toBe('v20.20.2');
    expect(nodeText({ node: 'v20.20.2', platform: 'linux x64', cpus: 4 })).toBe('v20.20.2');
  });
});
