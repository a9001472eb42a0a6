import type { Document, ResumeToken, Timestamp } from 'mongodb';
import type { Observable, Subscription } from 'rxjs';
import { CheckpointLeaseLostError } from '../../errors';
import type { ChangeHandler } from '../consume';
import type { ConsumeOptions } from '../consume-options';
import type { TransactionalChangeHandler } from '../transactional';
import type { ChangeStreamStatus } from '../status';

/**
 * The stage that keeps partition `partition` of `partitions`, run first in
 * the server-side pipeline so each member reads only its share: the
 * hashed-index key of the document's `_id` (mongod's hash of hashed shard
 * keys: the same on every server, every driver, every machine) modulo the
 * partition count. `_id` never changes, so all changes of a document land
 * in one partition, in order. Events without a `documentKey` (drop, rename,
 * dropDatabase, invalidate) concern the whole stream: every partition
 * receives them.
 */
export function partitionStage(partitions: number, partition: number): Document {
  return {
    $match: {
      $or: [
        { documentKey: { $exists: false } },
        { $expr: { $eq: [{ $mod: [{ $abs: { $toHashedIndexKey: '$documentKey._id' } }, partitions] }, partition] } },
      ],
    },
  };
}

/** A member's handler: plain, or transactional (it then gets `{ session }` too). @internal */
export type AnyChangeHandler<TChange, R> = ChangeHandler<TChange, R> | TransactionalChangeHandler<TChange, R>;

/** What a group needs of a partition's change stream: an `RxChangeStream`. @internal */
export interface PartitionStream<TChange> {
  readonly status$: Observable<ChangeStreamStatus>;
  consume<R>(handler: ChangeHandler<TChange, R>, options?: ConsumeOptions): Observable<R>;
}

/** Opens partition `partition`'s stream, starting at `start` while its checkpoint is empty. @internal */
export type PartitionStreamFactory<TChange> = (partition: number, start: ResumeToken | Timestamp) => PartitionStream<TChange>;

/** How a partition's subscription ended by itself. */
export type PartitionEnd =
  | { readonly kind: 'completed' }
  | { readonly kind: 'leaseLost'; readonly error: unknown }
  | { readonly kind: 'failed'; readonly error: unknown };

/** What a {@link PartitionConsumer} tells its member. @internal */
export interface PartitionEvents<R> {
  /** Every status of the partition's subscription, to forward. */
  status(status: ChangeStreamStatus): void;
  /** It holds the partition's lease. */
  acquired(fence: number): void;
  /** It saved the partition's position. */
  checkpointed(token: ResumeToken): void;
  /** A handler emitted `value`. */
  output(value: R): void;
  /** It ended by itself (not by `stop()`). */
  ended(end: PartitionEnd): void;
}

/**
 * One partition's `consume()` in a member: an ordinary single-consumer
 * subscription (its own cursor, checkpoint key, fenced lease, standby while
 * another member still holds the partition) plus what the member reports
 * about it (events handled, last event time, lag).
 *
 * `stop()` resolves once the subscription has closed: its last position
 * saved and its lease given up, so the member never runs two cursors of
 * one partition at once.
 *
 * @internal
 */
export class PartitionConsumer<TChange extends Document, R> {
  /** Events handed to the handler since the partition was assigned. */
  handled = 0;
  /** When the newest handled event was written. */
  lastEventAt: Date | undefined;
  /** How long after it was written the newest event reached the handler. */
  lagMS: number | undefined;
  /** The fence of the partition's lease, once held. */
  fence: number | undefined;

  private consuming: Subscription | undefined;
  private watching: Subscription | undefined;
  private opened = false;
  private lostLease = false;
  private stopping = false;
  private readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(
    readonly partition: number,
    private readonly stream: PartitionStream<TChange>,
    private readonly handler: AnyChangeHandler<TChange, R>,
    private readonly options: ConsumeOptions,
    private readonly events: PartitionEvents<R>,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** Subscribes: takes the lease (waiting while another member holds it), then consumes. */
  start(): void {
    this.watching = this.stream.status$.subscribe((status) => this.observe(status));
    const handle: TransactionalChangeHandler<TChange, R> = (change, context) => {
      this.note(change);
      return this.handler(change, context);
    };
    // Passes the transaction context on when there is one (transactional options); a plain run calls it with the change alone.
    this.consuming = this.stream.consume(handle as ChangeHandler<TChange, R>, this.options).subscribe({
      next: (value) => this.events.output(value),
      error: (error: unknown) => this.end(this.lostLease || error instanceof CheckpointLeaseLostError ? { kind: 'leaseLost', error } : { kind: 'failed', error }),
      complete: () => this.end({ kind: 'completed' }),
    });
  }

  /**
   * Unsubscribes and resolves when the subscription has closed (last save
   * done, lease released), or after `boundMS` (a store that never answers
   * must not hold the member; the lease then expires by itself).
   */
  async stop(boundMS: number): Promise<void> {
    if (this.stopping) return this.closed;
    this.stopping = true;
    this.consuming?.unsubscribe();
    // Without an opened cursor there is no position to save and no `closed` to wait for.
    if (!this.opened) this.markClosed();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMS)))]);
    clearTimeout(timer);
    this.watching?.unsubscribe();
  }

  private observe(status: ChangeStreamStatus): void {
    this.events.status(status);
    switch (status.type) {
      case 'acquired':
        this.fence = status.fence;
        this.events.acquired(status.fence);
        break;
      case 'opened':
        this.opened = true;
        break;
      case 'checkpointed':
        this.events.checkpointed(status.token);
        break;
      case 'leaseLost':
        this.lostLease = true;
        break;
      case 'closed':
        this.markClosed();
        break;
      default:
    }
  }

  private end(end: PartitionEnd): void {
    this.markClosed();
    this.watching?.unsubscribe();
    if (!this.stopping) this.events.ended(end);
  }

  private note(change: TChange): void {
    this.handled += 1;
    const written = eventTime(change);
    if (written === undefined) return;
    this.lastEventAt = written;
    this.lagMS = Math.max(0, Date.now() - written.getTime());
  }
}

/** When a change was written: its `wallTime` (MongoDB 6.0+), else its `clusterTime`'s seconds. */
function eventTime(change: Document): Date | undefined {
  if (change.wallTime instanceof Date) return change.wallTime;
  const time = change.clusterTime as Timestamp | undefined;
  return time !== undefined && typeof time.t === 'number' ? new Date(time.t * 1000) : undefined;
}
