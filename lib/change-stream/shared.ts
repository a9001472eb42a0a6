import type { Document } from 'mongodb';
import { Subscription } from 'rxjs';
import type { StreamConfig } from './config';
import { Fanout, type Lane, type Sink } from './delivery';
import { DEFAULTS } from './options';
import type { ReadPacing } from './reader';
import { StreamRun, type Receiver } from './run';
import type { CloseReason } from './status';

/**
 * The driver batch size of a shared stream: the user's `batchSize`, else a
 * read-ahead of {@link DEFAULTS.batchSize} events, no more than one
 * subscriber may hold (`bufferSize`) nor than a checkpoint may leave unsaved
 * (`checkpoint.every.events`, so a save can follow every that many events).
 */
function sharedBatchSize(config: Pick<StreamConfig<Document>, 'driverOptions' | 'bufferSize' | 'checkpoint'>): number {
  const requested = config.driverOptions.batchSize;
  if (requested !== undefined && requested > 0) return requested;
  return Math.min(DEFAULTS.batchSize, config.bufferSize, config.checkpoint?.events ?? Infinity);
}

/**
 * The receiver behind all plain subscribers of one `RxChangeStream`: one
 * cursor, its events handed on by a {@link Fanout} as each driver batch ends
 * (at once, or as one task on the user's `scheduler`). An event counts as
 * handled (and may be checkpointed) once every current subscriber has been
 * handed it; with no subscribers (after `connect()`, or while lingering) at
 * the end of its batch, as for any hot stream.
 *
 * The next batch is fetched once every subscriber has had its turn with the
 * last one: a subscriber that keeps up never overflows, a slow one costs the
 * others one slice per batch and overflows alone.
 */
class SharedRun<TChange extends Document> implements Receiver<TChange>, ReadPacing {
  refs = 0;
  readonly run: StreamRun<TChange>;
  private readonly fanout: Fanout<TChange>;
  private ready: (() => void) | undefined;
  private whenDrained: (() => void) | undefined;

  constructor(config: StreamConfig<TChange>, onClosing: () => void) {
    this.run = new StreamRun(config, { receiver: this, batchSize: sharedBatchSize(config), pacing: this, onClosing });
    const scheduler = config.deliverOn;
    this.fanout = new Fanout<TChange>(
      {
        limit: config.bufferSize,
        scheduler,
        now: scheduler === undefined ? () => performance.now() : () => scheduler.now(),
        handled: (seq) => this.run.position.acknowledged(seq),
        settled: () => this.settled(),
      },
      this.run.position.lastSeq + 1,
    );
  }

  mayRead(driverBuffered: number): boolean {
    return driverBuffered > 0 || !this.fanout.waiting;
  }

  onReady(ready: () => void): void {
    this.ready = ready;
  }

  endOfBatch(): void {
    this.fanout.flush();
  }

  add(sink: Sink<TChange>): Lane<TChange> {
    return this.fanout.add(sink);
  }

  remove(lane: Lane<TChange>): void {
    this.fanout.remove(lane);
  }

  event(change: TChange, seq: number): void {
    this.fanout.push(change, seq);
  }

  halt(): void {
    this.fanout.halt();
    this.settled();
  }

  drained(reason: CloseReason): Promise<void> {
    if (reason === 'unsubscribed') return Promise.resolve();
    // The reader stopped inside a batch (an invalidate, an error): hand over what it read.
    this.fanout.flush();
    if (!this.fanout.busy) return Promise.resolve();
    return new Promise((resolve) => (this.whenDrained = resolve));
  }

  ended(reason: CloseReason, error: unknown): void {
    if (reason !== 'unsubscribed') this.fanout.end(error, reason === 'error');
  }

  private settled(): void {
    if (this.ready !== undefined && !this.fanout.waiting) {
      const ready = this.ready;
      this.ready = undefined;
      ready();
    }
    if (this.whenDrained !== undefined && !this.fanout.busy) {
      const drained = this.whenDrained;
      this.whenDrained = undefined;
      drained();
    }
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
    const lane = shared.add(sink);
    return () => {
      shared.remove(lane);
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
