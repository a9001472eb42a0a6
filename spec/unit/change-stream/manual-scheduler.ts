import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

/**
 * A scheduler whose clock moves only when a spec calls `advance`; due work
 * runs in time order. Enough for code that schedules one-shot tasks.
 */
export class ManualScheduler implements SchedulerLike {
  private time = 0;
  private tasks: Array<{ at: number; order: number; run: () => void; cancelled: boolean }> = [];
  private order = 0;

  now(): number {
    return this.time;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    const task = {
      at: this.time + delay,
      order: this.order++,
      run: () => work.call(undefined as unknown as SchedulerAction<T>, state),
      cancelled: false,
    };
    this.tasks.push(task);
    return new Subscription(() => {
      task.cancelled = true;
    });
  }

  /** Moves the clock `ms` forward, running what falls due on the way. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.tasks = this.tasks.filter((t) => !t.cancelled);
      const due = this.tasks.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (due === undefined) break;
      this.tasks.splice(this.tasks.indexOf(due), 1);
      this.time = Math.max(this.time, due.at);
      due.run();
    }
    this.time = Math.max(this.time, target);
  }

  /** Moves the clock without running anything (work that takes time). */
  spend(ms: number): void {
    this.time += ms;
  }

  /** Tasks waiting. */
  get pending(): number {
    return this.tasks.filter((t) => !t.cancelled).length;
  }
}
