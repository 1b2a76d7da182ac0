// The seeded fault schedule: one draw per generation request, in arrival order.
import { FAULT_TYPES, type FaultType, type SimConfig } from './config.ts';
import { mulberry32 } from '../util/prng.ts';

/** One draw per chat or legacy completion request, in arrival order: same seed + same order ⇒ same faults. */
export class FaultSchedule {
  private readonly rng: () => number;
  private readonly cumulative: [FaultType, number][] = [];

  constructor(config: SimConfig) {
    this.rng = mulberry32(config.seed);
    let acc = 0;
    for (const f of FAULT_TYPES) {
      if (config.faults[f] <= 0) continue;
      acc += config.faults[f];
      this.cumulative.push([f, acc]);
    }
  }

  /** The fault for the next request (or null) and a uniform number that places mid-stream faults. */
  next(): { fault: FaultType | null; position: number } {
    const u = this.rng();
    const position = this.rng();
    for (const [f, upTo] of this.cumulative) if (u < upTo) return { fault: f, position };
    return { fault: null, position };
  }
}
