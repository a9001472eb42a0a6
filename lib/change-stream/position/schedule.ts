import type { ResumeToken } from 'mongodb';
import type { SchedulerLike, Subscription } from 'rxjs';
import { sameToken } from './tokens';

/** @internal */
export interface ScheduleConfig {
  /** Save once this many acknowledged events are unsaved (may be `Infinity`). */
  events: number;
  /** Save this long after the position first moved past the saved one (may be `Infinity`). */
  ms: number;
  scheduler: SchedulerLike;
  /** Saves `token` (bounded and retried); rejects when that fails for good. */
  save(token: ResumeToken): Promise<void>;
  /** A save completed; once per save, in order. */
  saved(token: ResumeToken): void;
  /** A save failed for good. */
  failed(error: unknown): void;
}

/**
 * When to save the acknowledged position: at every `events` boundary, or
 * `ms` after it first moved, whichever comes first. At most one save is in
 * flight, always of the newest position; a boundary passed meanwhile makes
 * the next save start as soon as it completes. Acknowledging never waits
 * for a save (the hot path stays synchronous); a consumer that wants to
 * bound what a crash repeats waits on {@link backlog}.
 *
 * @internal
 */
export class SaveSchedule {
  private latest: ResumeToken | undefined;
  private durable: ResumeToken | undefined;
  /** Events acknowledged in all, and how many of them the durable position covers. */
  private acknowledged = 0;
  private covered = 0;
  private inFlight: Promise<void> | undefined;
  private timer: Subscription | undefined;
  private stopped = false;
  /** Saves kept from starting while a save outside the schedule (in a transaction) runs. */
  private holds = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly config: ScheduleConfig) {}

  /** Acknowledged events whose position is not saved yet. */
  get unsaved(): number {
    return this.acknowledged - this.covered;
  }

  /** The position in the store (loaded, or saved by this schedule). */
  get saved(): ResumeToken | undefined {
    return this.durable;
  }

  /** Notes a position already in the store, so it is not saved again. */
  stored(token: ResumeToken): void {
    this.durable = token;
    this.latest = token;
    this.covered = this.acknowledged;
  }

  /** The acknowledged position moved to `token` by `events` events (0 for a post-batch token). */
  moved(token: ResumeToken, events: number): void {
    if (this.stopped) return;
    this.latest = token;
    this.acknowledged += events;
    // The per-event path: two comparisons unless a save is due or the timer needs arming.
    if (this.inFlight === undefined && (this.timer === undefined || this.acknowledged - this.covered >= this.config.events)) this.plan();
  }

  /**
   * `undefined` while fewer than `events` events are unsaved; else a promise
   * that resolves once a save brings them under, or saving has stopped.
   */
  backlog(): Promise<void> | undefined {
    if (this.stopped || this.unsaved < this.config.events) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Saves the newest position now, and resolves once it is stored (the opening position). */
  async saveNow(): Promise<void> {
    while (this.inFlight !== undefined) await this.inFlight;
    if (!this.stopped && this.latest !== undefined && !sameToken(this.latest, this.durable)) this.start();
    await this.inFlight;
  }

  /**
   * Stops scheduling and saves the newest position if it is not stored yet
   * (after a save in flight). Rejects if that last save fails.
   */
  async flush(save: (token: ResumeToken) => Promise<void>): Promise<void> {
    this.stop();
    await this.inFlight?.catch(() => {});
    const token = this.latest;
    if (token === undefined || sameToken(token, this.durable)) return;
    await save(token);
    this.durable = token;
    this.covered = this.acknowledged;
    this.config.saved(token);
  }

  /**
   * Waits for the save in flight, then keeps new ones from starting until
   * the returned function is called: a save made elsewhere (in a
   * transaction) is then never overtaken by an older position's.
   */
  async hold(): Promise<() => void> {
    this.holds += 1;
    while (this.inFlight !== undefined) await this.inFlight.catch(() => {});
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds -= 1;
      if (this.holds === 0 && this.inFlight === undefined && !this.stopped) this.plan();
    };
  }

  /** `events` acknowledged events moved the position to `token`, which was stored elsewhere (in their transaction). */
  storedElsewhere(token: ResumeToken, events: number): void {
    this.acknowledged += events;
    this.latest = token;
    this.durable = token;
    this.covered = this.acknowledged;
    this.cancelTimer();
    this.config.saved(token);
    this.release();
  }

  /** Stops scheduling; waiting consumers go on. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer();
    this.release();
  }

  private plan(): void {
    if (this.holds > 0 || this.latest === undefined) return;
    if (this.unsaved >= this.config.events) {
      this.start();
    } else if (this.timer === undefined && Number.isFinite(this.config.ms) && !sameToken(this.latest, this.durable)) {
      this.timer = this.config.scheduler.schedule(() => {
        this.timer = undefined;
        if (this.inFlight === undefined && !this.stopped && this.holds === 0) this.start();
      }, this.config.ms);
    }
  }

  private start(): void {
    this.cancelTimer();
    const token = this.latest as ResumeToken;
    // Compared only when a save is due, never per event: the store may already hold this position.
    if (sameToken(token, this.durable)) {
      this.covered = this.acknowledged;
      this.release();
      return;
    }
    const covering = this.acknowledged;
    const attempt = this.config.save(token).then(
      () => {
        this.inFlight = undefined;
        this.durable = token;
        this.covered = Math.max(this.covered, covering);
        this.config.saved(token);
        this.release();
        if (!this.stopped) this.plan();
      },
      (error: unknown) => {
        this.inFlight = undefined;
        if (this.stopped) return;
        this.stop();
        this.config.failed(error);
      },
    );
    this.inFlight = attempt;
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
