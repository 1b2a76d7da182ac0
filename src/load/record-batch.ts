// Records leave a generator (a worker thread, a remote agent) in batches: one message per ~20 ms or 64 records.
import type { RequestRecord } from '../model/record.ts';
import type { Clock, Timer } from '../util/clock.ts';

export interface RecordBatcher {
  push(rec: RequestRecord): void;
  /** Sends what is pending now (before the end of a stage). */
  flush(): void;
}

export function recordBatcher(clock: Clock, send: (records: RequestRecord[]) => void, maxDelayMs = 20): RecordBatcher {
  let batch: RequestRecord[] = [];
  let timer: Timer | null = null;
  const flush = () => {
    clock.clear(timer);
    timer = null;
    if (batch.length === 0) return;
    send(batch);
    batch = [];
  };
  return {
    flush,
    push(rec) {
      batch.push(rec);
      if (batch.length >= 64) flush();
      else timer ??= clock.setTimeout(flush, maxDelayMs);
    },
  };
}
