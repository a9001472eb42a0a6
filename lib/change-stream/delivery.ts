import type { SchedulerLike, Subscription } from 'rxjs';
import { SubscriberOverflowError } from '../errors';

/** The receiving end of one subscription (an RxJS `Subscriber` fits). */
export interface Sink<T> {
  readonly closed: boolean;
  next(value: T): void;
  error(error: unknown): void;
  complete(): void;
}

/** Longest a subscriber may run in one turn before the others get theirs. */
export const SLICE_MS = 10;

/**
 * One plain subscriber's own queue, drained on the scheduler in slices of at
 * most {@link SLICE_MS}: the reader never waits for it, and a subscriber
 * that is slow in `next` delays the others by at most one slice. When more
 * than `limit` events wait, the subscriber gets `SubscriberOverflowError`
 * after the events already queued, and nothing more.
 */
export class Delivery<T> {
  private queue: Array<{ seq: number; value: T }> = [];
  private head = 0;
  private ending: { error?: unknown; failed: boolean } | undefined;
  private task: Subscription | undefined;
  private unseen = false;

  constructor(
    private readonly sink: Sink<T>,
    /** Sequence number of the last event before this subscriber arrived. */
    public delivered: number,
    private readonly limit: number,
    private readonly scheduler: SchedulerLike,
    /** Called after each slice, when `delivered` may have moved. */
    private readonly progress: () => void,
  ) {}

  /** Events waiting for this subscriber. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  /** Whether events were queued since its last turn began (it has not had a turn with them yet). */
  get waiting(): boolean {
    return this.unseen;
  }

  /** Whether it still takes events (not ended, not overflowed, not unsubscribed). */
  get accepting(): boolean {
    return this.ending === undefined && !this.sink.closed;
  }

  /** Queues an event; false (and the subscriber is ending) when its queue was full. */
  push(seq: number, value: T): boolean {
    if (!this.accepting) return false;
    if (this.backlog >= this.limit) {
      this.end(new SubscriberOverflowError(this.limit), true);
      return false;
    }
    this.queue.push({ seq, value });
    this.unseen = true;
    this.schedule();
    return true;
  }

  /** Completes (or errors) the subscriber after the events already queued. */
  end(error?: unknown, failed = error !== undefined): void {
    if (this.ending !== undefined) return;
    this.ending = { error, failed };
    this.schedule();
  }

  /** Drops whatever is queued and scheduled (the subscriber left). */
  dispose(): void {
    this.task?.unsubscribe();
    this.task = undefined;
    this.queue = [];
    this.head = 0;
    this.unseen = false;
  }

  private schedule(): void {
    this.task ??= this.scheduler.schedule(() => {
      this.task = undefined;
      this.drain();
    });
  }

  private drain(): void {
    this.unseen = false;
    const started = this.scheduler.now();
    while (this.head < this.queue.length && !this.sink.closed) {
      const { seq, value } = this.queue[this.head];
      this.head += 1;
      this.delivered = seq;
      this.sink.next(value);
      if (this.scheduler.now() - started >= SLICE_MS) break;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.sink.closed) {
      this.dispose();
    } else if (this.backlog > 0) {
      this.schedule();
    } else if (this.ending !== undefined) {
      if (this.ending.failed) this.sink.error(this.ending.error);
      else this.sink.complete();
    }
    this.progress();
  }
}
