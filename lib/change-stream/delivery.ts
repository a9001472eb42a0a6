import type { SchedulerLike } from 'rxjs';
import { SubscriberOverflowError } from '../errors';

/** The receiving end of one subscription (an RxJS `Subscriber` fits). */
export interface Sink<T> {
  readonly closed: boolean;
  next(value: T): void;
  error(error: unknown): void;
  complete(): void;
}

/** Longest one subscriber may take in one turn before the others get theirs. */
export const SLICE_MS = 10;
/** Most events handed to one subscriber between two looks at the clock. */
const MAX_STRIDE = 1024;

/** @internal */
export interface FanoutOptions {
  /** `bufferSize`: most events a subscriber may still be behind after its turn. */
  limit: number;
  /** The user's scheduler: each round is one task on it. Absent: a round runs at once when a batch ends. */
  scheduler: SchedulerLike | undefined;
  /** The clock slices are measured with, in ms. */
  now(): number;
  /** Every event up to `seq` has been handed to every subscriber that counts. */
  handled(seq: number): void;
  /** A round or a removal was settled: `waiting` and `busy` may have changed. */
  settled(): void;
}

/** One subscriber's place in the shared log. @internal */
export class Lane<T> {
  /** Sequence number of the next event to hand over. */
  next: number;
  /** Sequence number it stops before: the end of the events it had room for, once it overflowed. */
  stop = Infinity;
  /** How it ends once it reached `stop` or the run's end (run ended, or overflowed). */
  ending: { error: unknown; failed: boolean } | undefined;
  /** Unsubscribed, or ended. */
  gone = false;

  constructor(
    readonly sink: Sink<T>,
    next: number,
  ) {
    this.next = next;
  }
}

/**
 * Hands the events of one stream to its plain subscribers: one shared log of
 * events (the driver batch, plus what a lagging subscriber has yet to get)
 * and, per subscriber, only its index in it — no copy or wrapper per
 * subscriber, so memory per queued event is the same whatever their number.
 *
 * Delivery is in rounds, one per driver batch, run at once when the batch
 * ends (or as one task on the user's scheduler): each subscriber in turn
 * gets what it has not seen, for at most {@link SLICE_MS}. One slow in `next`
 * is cut off there and continues in later rounds (on the next macrotask, or
 * with the next batch if that comes first), so the others never wait more
 * than a slice for it; one still more than `limit` events behind after its turn
 * gets the `limit` events it had room for, then `SubscriberOverflowError`,
 * alone. Within a turn the clock is read after the first event and then at
 * strides growing fourfold, so a fast subscriber costs a few clock reads per
 * batch, not one per event.
 *
 * An event counts as handled once every subscriber present when it was read
 * has been handed it (an overflowed one no longer counts).
 *
 * @internal
 */
export class Fanout<T> {
  private log: T[] = [];
  /** Sequence number of `log[0]`. */
  private base: number;
  private lanes: Array<Lane<T>> = [];
  private acked: number;
  /** Events pushed that no round has begun with. */
  private unrounded = false;
  private inRound = false;
  private again = false;
  private dirty = false;
  private settling = false;
  private halted = false;
  private task: { unsubscribe(): void } | undefined;

  constructor(
    private readonly options: FanoutOptions,
    /** Sequence number of the first event to come. */
    first: number,
  ) {
    this.base = first;
    this.acked = first - 1;
  }

  /** Sequence number the next event will have. */
  private get tail(): number {
    return this.base + this.log.length;
  }

  /** Whether some subscriber has not had a turn with the newest events yet (the reader waits for that). */
  get waiting(): boolean {
    return this.unrounded;
  }

  /** Whether some event is still to be handed to a subscriber that counts. */
  get busy(): boolean {
    if (this.unrounded) return true;
    const end = this.tail;
    for (const lane of this.lanes) if (!lane.gone && lane.stop === Infinity && lane.next < end) return true;
    return false;
  }

  /** A subscriber arrives: it gets the events read from now on. */
  add(sink: Sink<T>): Lane<T> {
    const lane = new Lane(sink, this.tail);
    this.lanes.push(lane);
    return lane;
  }

  /** A subscriber left: it gets nothing more, and no longer holds the acknowledgement back. */
  remove(lane: Lane<T>): void {
    if (lane.gone) return;
    lane.gone = true;
    this.dirty = true;
    if (this.inRound || this.settling) return;
    this.settling = true;
    queueMicrotask(() => {
      this.settling = false;
      if (!this.inRound) this.settle();
    });
  }

  /** An event read; `seq` follows the previous one's. It waits for {@link flush}. */
  push(value: T, seq: number): void {
    if (seq !== this.tail) throw new Error(`rxmongo internal error: change ${seq} read after ${this.tail - 1}`);
    this.log.push(value);
    this.unrounded = true;
  }

  /** The driver batch ended: every subscriber gets a turn with it. */
  flush(): void {
    if (this.unrounded) this.deliver();
  }

  /** The run ended: each subscriber completes (or errors) after the events it has yet to get. */
  end(error: unknown, failed: boolean): void {
    for (const lane of this.lanes) lane.ending ??= { error, failed };
    this.deliver();
  }

  /** Drops every event not handed over yet, unacknowledged (the run is failing). */
  halt(): void {
    this.halted = true;
    const end = this.tail;
    for (const lane of this.lanes) lane.next = Math.max(lane.next, end);
    this.log = [];
    this.base = end;
    this.unrounded = false;
  }

  private deliver(): void {
    if (this.inRound) this.again = true;
    else if (this.options.scheduler === undefined) this.round();
    else this.later();
  }

  /**
   * A round as one task on the scheduler, or on the next macrotask without
   * one (that is only for subscribers cut off at their slice: off the hot
   * path). At most one waits.
   */
  private later(): void {
    if (this.task !== undefined) return;
    const { scheduler } = this.options;
    if (scheduler === undefined) {
      const immediate = setImmediate(() => this.round());
      this.task = { unsubscribe: () => clearImmediate(immediate) };
      return;
    }
    let ran = false;
    const task = scheduler.schedule(() => {
      ran = true;
      this.round();
    });
    // A synchronous scheduler (queueScheduler) has run it already.
    if (!ran) this.task = task;
  }

  private round(): void {
    this.task?.unsubscribe();
    this.task = undefined;
    this.inRound = true;
    this.unrounded = false;
    let lagging = false;
    try {
      const end = this.tail;
      let clock = this.options.now();
      for (let i = 0; i < this.lanes.length; i += 1) {
        const lane = this.lanes[i];
        if (lane.gone) continue;
        if (lane.sink.closed) {
          this.drop(lane);
          continue;
        }
        const stop = lane.stop < end ? lane.stop : end;
        if (lane.next < stop) clock = this.turn(lane, stop, clock);
        if (lane.gone) continue;
        if (lane.ending === undefined && end - lane.next > this.options.limit) {
          lane.stop = lane.next + this.options.limit;
          lane.ending = { error: new SubscriberOverflowError(this.options.limit), failed: true };
        }
        if (lane.next < (lane.stop < end ? lane.stop : end)) lagging = true;
        else if (lane.ending !== undefined) this.finish(lane);
      }
    } finally {
      this.inRound = false;
    }
    if (this.again) {
      this.again = false;
      lagging = true;
    }
    if (lagging) this.later();
    this.settle();
  }

  /** One subscriber's turn: events up to `stop`, for at most a slice. Returns the clock's last reading. */
  private turn(lane: Lane<T>, stop: number, started: number): number {
    const { log, base } = this;
    const { sink } = lane;
    const first = lane.next;
    let stride = 1;
    let checkAt = first + 1;
    let clock = started;
    try {
      while (lane.next < stop && !lane.gone) {
        const value = log[lane.next - base];
        lane.next += 1;
        sink.next(value);
        if (lane.next === checkAt) {
          clock = this.options.now();
          const spent = clock - started;
          if (spent >= SLICE_MS) return clock;
          const fit = spent > 0 ? Math.floor(((SLICE_MS - spent) * (lane.next - first)) / spent) : MAX_STRIDE;
          stride = Math.max(1, Math.min(stride * 4, fit, MAX_STRIDE));
          checkAt = lane.next + stride;
        }
      }
    } catch (error) {
      // An RxJS Subscriber reports its observer's errors itself; another sink that throws errors alone.
      this.drop(lane);
      try {
        sink.error(error);
      } catch {
        // Nothing more to tell it.
      }
    }
    return lane.next === checkAt ? clock : this.options.now();
  }

  private finish(lane: Lane<T>): void {
    const ending = lane.ending as { error: unknown; failed: boolean };
    this.drop(lane);
    if (ending.failed) lane.sink.error(ending.error);
    else lane.sink.complete();
  }

  private drop(lane: Lane<T>): void {
    lane.gone = true;
    this.dirty = true;
  }

  /** Acknowledges what every counted subscriber was handed, frees what every subscriber was handed. */
  private settle(): void {
    const end = this.tail;
    let counted = end;
    let oldest = end;
    for (const lane of this.lanes) {
      if (lane.gone) continue;
      if (lane.next < oldest) oldest = lane.next;
      if (lane.stop === Infinity && lane.next < counted) counted = lane.next;
    }
    if (this.dirty) {
      this.dirty = false;
      this.lanes = this.lanes.filter((lane) => !lane.gone);
    }
    if (oldest === end) {
      if (!this.unrounded) {
        this.log = [];
        this.base = end;
      }
    } else if (oldest - this.base > this.log.length / 2) {
      this.log = this.log.slice(oldest - this.base);
      this.base = oldest;
    }
    if (!this.unrounded && !this.halted && counted - 1 > this.acked) {
      this.acked = counted - 1;
      this.options.handled(this.acked);
    }
    this.options.settled();
  }
}
