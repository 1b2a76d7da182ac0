// How a stage is split over parts (worker threads, remote agents): the load model splits its arrivals by part
// (closed loop: contiguous slot ranges, closed-loop.ts); counts that executors cannot share live (a request-limit
// window, the run's request budget) are split in proportion to each part's share of the load.
import type { LoadSpec } from '../model/stage.ts';
import { shares } from './closed-loop.ts';

/** Each part's share of the stage's load: slots in a closed loop; one share each for arrivals split by index. */
export function partWeights(load: LoadSpec, of: number): number[] {
  if (load.kind === 'closed') return shares(load.concurrency, of).map((s) => s.count);
  return Array.from({ length: of }, () => 1);
}

/** `total` split into whole numbers in proportion to `weights`, summing to `total` (largest remainder first). */
export function splitExactly(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0 || !Number.isFinite(total)) return weights.map(() => (sum <= 0 ? 0 : total));
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, k) => ({ k, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.k - b.k);
  for (const { k } of byRemainder) {
    if (left <= 0) break;
    if (weights[k]! <= 0) continue;
    out[k]!++;
    left--;
  }
  return out;
}
