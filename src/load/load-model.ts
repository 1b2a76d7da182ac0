// The load models, chosen by `plan.load.kind`: adding an arrival process is one case here, nothing in the controller.
import type { LoadSpec, StagePlan } from '../model/stage.ts';
import type { Clock } from '../util/clock.ts';
import { closedLoop, shares } from './closed-loop.ts';
import type { LoadModel, StagePart } from './executor.ts';
import { openLoop, openParts } from './open-loop.ts';

export const WHOLE_STAGE: StagePart = { index: 0, of: 1 };

export function loadModelFor(plan: StagePlan, o: { clock: Clock; stageStartMs: number; part: StagePart }): LoadModel {
  const kind = plan.load.kind;
  switch (kind) {
    case 'closed':
      return closedLoop({ ...o, concurrency: plan.load.concurrency, warmupMs: plan.warmupMs });
    case 'open':
      return openLoop({ ...o, load: plan.load, warmupMs: plan.warmupMs, durationMs: plan.durationMs });
    default:
      throw new Error(`unknown load model ${String(kind)}`);
  }
}

/**
 * The parts (of `of`) that have anything to send: a closed loop of C slots on more than C threads leaves some idle;
 * an open loop uses min(of, max_in_flight) parts.
 */
export function partsWithWork(load: LoadSpec, of: number): number[] {
  const kind = load.kind;
  switch (kind) {
    case 'closed':
      return shares(load.concurrency, of).flatMap((s, k) => (s.count > 0 ? [k] : []));
    case 'open':
      return Array.from({ length: openParts(load, of) }, (_, k) => k);
    default:
      throw new Error(`unknown load model ${String(kind)}`);
  }
}
