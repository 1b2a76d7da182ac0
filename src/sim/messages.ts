// Messages between startSimulator (index.ts) and the host running the server (host.ts).
import type { SimConfig } from './config.ts';

export interface HostInit {
  config: SimConfig;
  port: number;
  groundTruthPath: string | null;
}

export type ParentMessage = { type: 'start'; init: HostInit } | { type: 'stop' };

export type HostMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string; errorCode: string | null }
  | { type: 'stopped' };
