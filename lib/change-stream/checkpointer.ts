import type { ResumeToken } from 'mongodb';
import type { SchedulerLike, Subscription } from 'rxjs';
import type { CheckpointStore } from '../checkpoint/store';
import { backoffDelay, type RetryOptions } from './backoff';
import { classifyError } from './classify';
import { sameToken } from './token-tracker';

export interface CheckpointerConfig {
  store: CheckpointStore;
  key: string;
  /** Save once this many events are unsaved (may be `Infinity`). */
  events: number;
  /** Save this long after the first unsaved position arrived (may be `Infinity`). */
  ms: number;
  retry: RetryOptions;
  scheduler: SchedulerLike;
}

export interface CheckpointerHooks {
  /** A save completed; called once per save, in order. */
  saved(token: ResumeToken): void;
  /** A save failed for good (fatal error, or `retry.maxAttempts` reached). */
  failed(error: unknown): void;
}

/**
 * Batches resume-token saves to a {@link CheckpointStore}: one save per
 * `events` acknowledged events or `ms` after the position first moved,
 * whichever comes first; at most one save in flight, always of the newest
 * position, so the store only ever moves forward. Transient store errors
 * are retried with the stream's backoff; the position is kept meanwhile.
 */
export class Checkpointer {
  private latest: ResumeToken | undefined;
  private durable: ResumeToken | undefined;
  private unsaved = 0;
  private inFlight: Promise<void> | undefined;
  private timer: Subscription | undefined;
  private failures = 0;
  private stopped = false;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly config: CheckpointerConfig,
    private readonly hooks: CheckpointerHooks,
  ) {}

  /** Acknowledged events whose position is not saved yet. */
  get unsavedEvents(): number {
    return this.unsaved;
  }

  /** Notes the position already in the store (loaded from it), so it is not saved again. */
  startFrom(token: ResumeToken): void {
    this.durable = token;
    this.latest ??= token;
  }

  /** Records a new position reached by acknowledging `events` events (0 for a post-batch token). */
  offer(token: ResumeToken, events: number): void {
    if (this.stopped) return;
    this.latest = token;
    this.unsaved += events;
    // After a failure the retry timer saves the newest position; don't hammer the store meanwhile.
    if (this.inFlight === undefined && this.failures === 0) this.plan();
  }

  /**
   * `undefined` while fewer than `events` events are unsaved; else a promise
   * that resolves once a save brings them under, or saving has stopped. A
   * consumer that waits on it never has more than `events` unsaved events.
   */
  backlog(): Promise<void> | undefined {
    if (this.stopped || this.unsaved < this.config.events) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Stops batching and saves the newest position if it is not saved yet
   * (waiting for a save in flight first). Rejects if that last save fails.
   */
  async flush(): Promise<void> {
    this.stop();
    while (this.inFlight !== undefined) await this.inFlight;
    const token = this.latest;
    if (token === undefined || sameToken(token, this.durable)) return;
    await this.config.store.save(this.config.key, token);
    this.durable = token;
    this.unsaved = 0;
    this.hooks.saved(token);
  }

  private stop(): void {
    this.stopped = true;
    this.cancelTimer();
    this.release();
  }

  private plan(): void {
    if (this.latest === undefined || sameToken(this.latest, this.durable)) return;
    if (this.unsaved >= this.config.events) {
      this.save();
    } else if (this.timer === undefined && Number.isFinite(this.config.ms)) {
      this.timer = this.config.scheduler.schedule(() => this.save(), this.config.ms);
    }
  }

  private save(): void {
    this.cancelTimer();
    const token = this.latest as ResumeToken;
    const covering = this.unsaved;
    this.inFlight = Promise.resolve()
      .then(() => this.config.store.save(this.config.key, token))
      .then(
        () => {
          this.inFlight = undefined;
          this.durable = token;
          this.unsaved -= covering;
          this.failures = 0;
          this.hooks.saved(token);
          this.release();
          if (!this.stopped) this.plan();
        },
        (error: unknown) => {
          this.inFlight = undefined;
          if (this.stopped) return;
          this.failures += 1;
          if (classifyError(error) !== 'transient' || this.failures >= this.config.retry.maxAttempts) {
            this.stop();
            this.hooks.failed(error);
            return;
          }
          this.timer = this.config.scheduler.schedule(() => this.save(), backoffDelay(this.failures, this.config.retry));
        },
      );
  }

  private release(): void {
    if (!this.stopped && this.unsaved >= this.config.events) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private cancelTimer(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
  }
}
