// A deterministic clock for the engine: timers run in time order when advanced; defer() runs at the current time.
import type { EngineClock } from '../../src/sim/engine.ts';

interface Task {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements EngineClock {
  private t = 0;
  private order = 0;
  private tasks: Task[] = [];

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, delayMs: number): Task {
    const task = { at: this.t + Math.max(0, delayMs), order: this.order++, fn, cancelled: false };
    this.tasks.push(task);
    return task;
  }

  clearTimer(handle: unknown): void {
    (handle as Task).cancelled = true;
  }

  defer(fn: () => void): void {
    this.setTimer(fn, 0);
  }

  /** Timers set and neither run nor cleared yet. */
  pending(): number {
    return this.tasks.filter((task) => !task.cancelled).length;
  }

  /** Runs every task due up to `until` (ms), in time order. */
  runUntil(until: number): void {
    for (;;) {
      let next: Task | null = null;
      for (const task of this.tasks) {
        if (task.cancelled) continue;
        if (!next || task.at < next.at || (task.at === next.at && task.order < next.order)) next = task;
      }
      if (!next || next.at > until) break;
      this.tasks = this.tasks.filter((task) => task !== next && !task.cancelled);
      this.t = next.at;
      next.fn();
    }
    this.t = Math.max(this.t, until);
  }
}
