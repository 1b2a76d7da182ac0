// The closed loop: C slots, each sending its next request as soon as its previous one ends, their first requests
// staggered over the first half of the warm-up (1 ms apart, at most 1 s, without one).
import { sleep, type Clock } from '../util/clock.ts';
import type { LoadModel, StagePart, StageRequests } from './executor.ts';

/** Part k's share of C slots: as even as possible, the first C mod N parts one more. */
export function shares(concurrency: number, parts: number): { offset: number; count: number }[] {
  const out: { offset: number; count: number }[] = [];
  let offset = 0;
  for (let k = 0; k < parts; k++) {
    const count = Math.floor(concurrency / parts) + (k < concurrency % parts ? 1 : 0);
    out.push({ offset, count });
    offset += count;
  }
  return out;
}

export function closedLoop(o: {
  concurrency: number;
  warmupMs: number;
  stageStartMs: number;
  clock: Clock;
  /** Slots of part k are the stage's slots [offset_k, offset_k + count_k): the stagger and slot numbers are the whole stage's. */
  part: StagePart;
}): LoadModel {
  const C = o.concurrency;
  const spanMs = o.warmupMs > 0 ? o.warmupMs / 2 : Math.min(C, 1000);
  const mine = shares(C, o.part.of)[o.part.index] ?? { offset: 0, count: 0 };
  return {
    async run(requests: StageRequests): Promise<void> {
      const slot = async (w: number): Promise<void> => {
        await sleep(o.clock, o.stageStartMs + (spanMs * w) / C - o.clock.now());
        while (await requests.sendNext(w));
      };
      const slots: Promise<void>[] = [];
      for (let w = mine.offset; w < mine.offset + mine.count; w++) slots.push(slot(w));
      await Promise.all(slots);
    },
  };
}
