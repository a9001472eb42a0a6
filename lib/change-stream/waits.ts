import type { SchedulerLike, Subscription } from 'rxjs';

/**
 * The waits of one subscription (backoff delays, read-ahead pauses, standby
 * polls), all cut short by one `stop()`. Each wait registers itself and
 * removes itself when it ends, so waiting any number of times holds no
 * memory — unlike racing each wait against a stop promise that never
 * settles, which keeps one reaction per wait alive.
 *
 * @internal
 */
export class Waits {
  private readonly pending = new Set<() => void>();
  private isStopped = false;

  constructor(private readonly scheduler: SchedulerLike) {}

  /** True once `stop()` was called. */
  get stopped(): boolean {
    return this.isStopped;
  }

  /** Resolves after `ms` on the scheduler, or at `stop()`. */
  sleep(ms: number): Promise<void> {
    let timer: Subscription | undefined;
    return this.until((wake) => {
      timer = this.scheduler.schedule(wake, ms);
    }).finally(() => timer?.unsubscribe());
  }

  /** Resolves when `arm`'s wake function is called, or at `stop()`. */
  until(arm: (wake: () => void) => void): Promise<void> {
    if (this.isStopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        if (!this.pending.delete(wake)) return;
        resolve();
      };
      this.pending.add(wake);
      arm(wake);
    });
  }

  /** Ends every wait now and every later one at once. */
  stop(): void {
    this.isStopped = true;
    for (const wake of [...this.pending]) wake();
  }
}
