// Messages between startSimulator (index.ts) and the host running the server (host.ts).
import type { SimConfig } from './config.ts';

export interface HostInit {
  config: SimConfig;
  port: number;
  groundTruthPath: string | null;
}

/** `flush`: write the ground-truth lines buffered so far; answered by `flushed` with the same `seq`. */
export type ParentMessage = { type: 'start'; init: HostInit } | { type: 'stop' } | { type: 'flush'; seq: number };

export type HostMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string; errorCode: string | null }
  | { type: 'stopped' }
  | { type: 'flushed'; seq: number };
