import type { ChangeStreamOptions, Document, ResumeToken } from 'mongodb';
import { Subscription } from 'rxjs';
import type { StreamConfig } from './config';
import { Delivery, type Sink } from './delivery';
import type { ReadPacing } from './reader';
import { Run, type CloseReason } from './run';

/**
 * The run behind all plain subscribers of one `RxChangeStream`: one cursor,
 * each event queued to every subscriber present when it arrives. An event
 * counts as handled (and may be checkpointed) once every current subscriber
 * has been handed it; with no subscribers (after `connect()`, or while
 * lingering) at once, as for any hot stream.
 *
 * The next batch is fetched only after every subscriber has had a turn
 * (one slice) with the last one, and a batch is at most `bufferSize` events:
 * a subscriber that keeps up never overflows, a slow one costs the others
 * one slice per batch and overflows alone.
 */
class SharedRun<TChange extends Document> extends Run<TChange> implements ReadPacing {
  refs = 0;
  private readonly deliveries = new Set<Delivery<TChange>>();
  private wake: (() => void) | undefined;
  private whenDrained: (() => void) | undefined;

  mayRead(driverBuffered: number): boolean {
    return driverBuffered > 0 || !this.anyWaiting();
  }

  whenReady(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  add(sink: Sink<TChange>): Delivery<TChange> {
    const delivery = new Delivery(sink, this.tracker.lastSeq, this.config.bufferSize, this.config.scheduler, () =>
      this.settle(),
    );
    this.deliveries.add(delivery);
    return delivery;
  }

  remove(delivery: Delivery<TChange>): void {
    delivery.dispose();
    if (this.deliveries.delete(delivery)) this.settle();
  }

  event(change: TChange, token: ResumeToken | undefined): void {
    const seq = this.tracker.read(token);
    let dropped = false;
    for (const delivery of this.deliveries) {
      if (!delivery.push(seq, change)) {
        this.deliveries.delete(delivery);
        dropped = true;
      }
    }
    if (dropped || this.deliveries.size === 0) this.settle();
  }

  error(error: unknown): void {
    void this.close('error', error);
  }

  complete(): void {
    void this.close('completed');
  }

  protected override driverOptions(): ChangeStreamOptions {
    const requested = this.config.driverOptions.batchSize;
    const batchSize = requested !== undefined && requested > 0 ? Math.min(requested, this.config.bufferSize) : this.config.bufferSize;
    return { ...this.config.driverOptions, batchSize };
  }

  protected override pacing(): ReadPacing {
    return this;
  }

  protected override drained(): Promise<void> {
    if (!this.anyBacklog()) return Promise.resolve();
    return new Promise((resolve) => (this.whenDrained = resolve));
  }

  protected ended(reason: CloseReason, error: unknown): void {
    if (reason === 'unsubscribed') return;
    for (const delivery of this.deliveries) delivery.end(error, reason === 'error');
  }

  /** Acknowledges up to the last event every current subscriber has been handed. */
  private settle(): void {
    let handled = this.tracker.lastSeq;
    for (const delivery of this.deliveries) handled = Math.min(handled, delivery.delivered);
    this.acknowledge(handled);
    if (this.wake !== undefined && !this.anyWaiting()) {
      const wake = this.wake;
      this.wake = undefined;
      wake();
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
 * invalidate) is replaced by a fresh one for the next subscriber.
 */
export class Hub<TChange extends Document> {
  private run: SharedRun<TChange> | undefined;
  private lingering: Subscription | undefined;

  constructor(private readonly config: StreamConfig<TChange>) {}

  /** Adds a subscriber; returns its teardown. Throws `CheckpointInUseError`. */
  attach(sink: Sink<TChange>): () => void {
    const run = this.acquire();
    const delivery = run.add(sink);
    return () => {
      run.remove(delivery);
      this.release(run);
    };
  }

  /** Holds the run open without a subscriber until the returned subscription ends. */
  connect(): Subscription {
    const run = this.acquire();
    return new Subscription(() => this.release(run));
  }

  private acquire(): SharedRun<TChange> {
    this.lingering?.unsubscribe();
    this.lingering = undefined;
    let run = this.run;
    if (run === undefined || run.isClosing) {
      run = new SharedRun(this.config);
      this.run = run;
      run.start();
    }
    run.refs += 1;
    return run;
  }

  private release(run: SharedRun<TChange>): void {
    run.refs -= 1;
    if (run !== this.run || run.refs > 0) return;
    if (this.config.linger > 0) {
      this.lingering = this.config.scheduler.schedule(() => {
        this.lingering = undefined;
        if (this.run === run && run.refs === 0) this.stop(run);
      }, this.config.linger);
    } else {
      this.stop(run);
    }
  }

  private stop(run: SharedRun<TChange>): void {
    this.run = undefined;
    void run.stop();
  }
}
