import type { Document } from 'mongodb';
import { Subscription } from 'rxjs';
import type { StreamConfig } from './config';
import { Delivery, type Sink } from './delivery';
import type { ReadPacing } from './reader';
import { StreamRun, type Receiver } from './run';
import type { CloseReason } from './status';

/**
 * The receiver behind all plain subscribers of one `RxChangeStream`: one
 * cursor, each event queued to every subscriber present when it arrives. An
 * event counts as handled (and may be checkpointed) once every current
 * subscriber has been handed it; with no subscribers (after `connect()`, or
 * while lingering) at once, as for any hot stream.
 *
 * The next batch is fetched only after every subscriber has had a turn
 * (one slice) with the last one, and a batch is at most `bufferSize` events
 * — and at most `checkpoint.every.events`, so a save follows every that
 * many events delivered: a subscriber that keeps up never overflows, a slow
 * one costs the others one slice per batch and overflows alone.
 */
class SharedRun<TChange extends Document> implements Receiver<TChange>, ReadPacing {
  refs = 0;
  readonly run: StreamRun<TChange>;
  private readonly deliveries = new Set<Delivery<TChange>>();
  private ready: (() => void) | undefined;
  private whenDrained: (() => void) | undefined;

  constructor(config: StreamConfig<TChange>, onClosing: () => void) {
    const requested = config.driverOptions.batchSize;
    let batchSize = requested !== undefined && requested > 0 ? Math.min(requested, config.bufferSize) : config.bufferSize;
    const every = config.checkpoint?.events ?? Infinity;
    if (every < batchSize) batchSize = every;
    this.run = new StreamRun(config, { receiver: this, batchSize, pacing: this, onClosing });
  }

  mayRead(driverBuffered: number): boolean {
    return driverBuffered > 0 || !this.anyWaiting();
  }

  onReady(ready: () => void): void {
    this.ready = ready;
  }

  add(sink: Sink<TChange>): Delivery<TChange> {
    const delivery = new Delivery(sink, this.run.position.lastSeq, this.run.config.bufferSize, this.run.config.scheduler, () =>
      this.settle(),
    );
    this.deliveries.add(delivery);
    return delivery;
  }

  remove(delivery: Delivery<TChange>): void {
    delivery.dispose();
    if (this.deliveries.delete(delivery)) this.settle();
  }

  event(change: TChange, seq: number): void {
    let dropped = false;
    for (const delivery of this.deliveries) {
      if (!delivery.push(seq, change)) {
        this.deliveries.delete(delivery);
        dropped = true;
      }
    }
    if (dropped || this.deliveries.size === 0) this.settle();
  }

  halt(): void {
    for (const delivery of this.deliveries) delivery.dispose();
    this.settle();
  }

  drained(reason: CloseReason): Promise<void> {
    if (reason === 'unsubscribed' || !this.anyBacklog()) return Promise.resolve();
    return new Promise((resolve) => (this.whenDrained = resolve));
  }

  ended(reason: CloseReason, error: unknown): void {
    if (reason === 'unsubscribed') return;
    for (const delivery of this.deliveries) delivery.end(error, reason === 'error');
  }

  /** Acknowledges up to the last event every current subscriber has been handed. */
  private settle(): void {
    const position = this.run.position;
    let handled = position.lastSeq;
    for (const delivery of this.deliveries) handled = Math.min(handled, delivery.delivered);
    position.acknowledged(handled);
    if (this.ready !== undefined && !this.anyWaiting()) {
      const ready = this.ready;
      this.ready = undefined;
      ready();
    }
    if (this.whenDrained !== undefined && !this.anyBacklog()) {
      const drained = this.whenDrained;
      this.whenDrained = undefined;
      drained();
    }
  }

  private anyBacklog(): boolean {
    for (const delivery of this.deliveries) if (delivery.backlog > 0) return true;
    return false;
  }

  private anyWaiting(): boolean {
    for (const delivery of this.deliveries) if (delivery.waiting) return true;
    return false;
  }
}

/**
 * Reference-counts the shared run: the first subscriber (or `connect()`)
 * starts it, the last one leaving stops it (after `linger` ms, if set; a
 * subscriber arriving meanwhile keeps it). A run that ended (error,
 * invalidate, client closed) is replaced by a fresh one for the next
 * subscriber, and takes its linger timer with it, so no timer outlives it.
 *
 * @internal
 */
export class Hub<TChange extends Document> {
  private shared: SharedRun<TChange> | undefined;
  private lingering: Subscription | undefined;

  constructor(private readonly config: StreamConfig<TChange>) {}

  /** Adds a subscriber; returns its teardown. */
  attach(sink: Sink<TChange>): () => void {
    const shared = this.acquire();
    const delivery = shared.add(sink);
    return () => {
      shared.remove(delivery);
      this.release(shared);
    };
  }

  /** Holds the run open without a subscriber until the returned subscription ends. */
  connect(): Subscription {
    const shared = this.acquire();
    return new Subscription(() => this.release(shared));
  }

  private acquire(): SharedRun<TChange> {
    this.cancelLinger();
    let shared = this.shared;
    if (shared === undefined || shared.run.isClosing) {
      const fresh: SharedRun<TChange> = new SharedRun(this.config, () => {
        if (this.shared !== fresh) return;
        this.shared = undefined;
        this.cancelLinger();
      });
      this.shared = shared = fresh;
      fresh.run.start();
    }
    shared.refs += 1;
    return shared;
  }

  private release(shared: SharedRun<TChange>): void {
    shared.refs -= 1;
    if (shared !== this.shared || shared.refs > 0) return;
    if (this.config.linger > 0) {
      this.lingering = this.config.scheduler.schedule(() => {
        this.lingering = undefined;
        if (this.shared === shared && shared.refs === 0) void shared.run.stop();
      }, this.config.linger);
    } else {
      void shared.run.stop();
    }
  }

  private cancelLinger(): void {
    this.lingering?.unsubscribe();
    this.lingering = undefined;
  }
}
