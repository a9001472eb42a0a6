import { Timestamp, type ChangeStreamNameSpace, type Db, type Document, type InferIdType, type RunCommandCursor, type WithId } from 'mongodb';
import { RxMongoError } from '../errors';
import { isTimestamp } from './options';
import type { Position } from './position';
import type { ReadPacing, ReaderSink } from './reader';
import type { Waits } from './waits';

/**
 * One document of the collection as `watch(…, { initialSnapshot: true })`
 * emits it before the changes: the collection's state at `clusterTime`.
 * Handle it as an upsert of `fullDocument` (a restart during the snapshot
 * emits it again).
 */
export interface ChangeStreamSnapshotDocument<TSchema extends Document = Document> {
  operationType: 'snapshot';
  /** The document as it was at `clusterTime`. */
  fullDocument: WithId<TSchema>;
  /** Its `_id`, as change events give it. */
  documentKey: { _id: InferIdType<TSchema> };
  /** The collection. */
  ns: ChangeStreamNameSpace;
  /** The time the snapshot was read at: the changes that follow are those after it. */
  clusterTime: Timestamp;
}

/** The collection a stream with `initialSnapshot` reads first: its database and its name. */
export interface SnapshotSource {
  db: Db;
  collection: string;
}

/** What the snapshot reads through: the reader's sink, pacing and stop flag. @internal */
interface SnapshotReading {
  /** Hands one snapshot event on. */
  deliver(event: Document): void;
  /** The events read so far are all handed on (the cursor's batch is used up): a fan-out delivers them now. */
  batchEnded(): void;
  /** `undefined` when reading on is allowed with `buffered` events held by the cursor; else resolves once it is. */
  paced(buffered: number): Promise<void> | undefined;
  stopped(): boolean;
}

/**
 * The initial snapshot of one subscription: the collection's documents read
 * at one cluster time T (`readConcern: { level: 'snapshot', atClusterTime }`,
 * MongoDB 5.0+), as events, in `_id` order, through the stream's own
 * pipeline; then the changes from just after T (`startAtOperationTime` is
 * inclusive, and everything at T is in the snapshot) — no gap, no
 * duplicate.
 *
 * A read cut short by an error goes on at the same time after the last
 * `_id` delivered, so within a subscription nothing is emitted twice. The
 * read must finish within the server's snapshot history window, or the
 * server answers `SnapshotTooOld` and the stream errors.
 *
 * @internal
 */
export class InitialSnapshot {
  private time: Timestamp | undefined;
  private last: { id: unknown } | undefined;
  private cursor: RunCommandCursor | undefined;
  private finished = false;

  constructor(
    private readonly source: SnapshotSource,
    /** The stream's stages (without `$changeStreamSplitLargeEvent`). */
    private readonly pipeline: Document[],
    private readonly batchSize: number | undefined,
  ) {}

  /**
   * Whether the snapshot is to be read (again) before the change stream
   * opens: no position is known (none stored, nothing read), and it was not
   * read to its end already (a reopen after history loss does not read it
   * again).
   */
  due(position: Position): boolean {
    return !this.finished && position.readPosition === undefined;
  }

  /**
   * Emits the documents to `sink`, paced like changes, then starts
   * `position` just after the snapshot's time; false when stopped meanwhile.
   */
  async deliver<TChange>(
    context: { position: Position; waits: Waits },
    sink: ReaderSink<TChange>,
    pacing: ReadPacing | undefined,
    stopped: () => boolean,
  ): Promise<boolean> {
    const { position, waits } = context;
    const after = await this.read({
      deliver: (event) => sink.event(event as TChange, position.read(undefined)),
      batchEnded: () => pacing?.endOfBatch?.(),
      paced: (buffered) => (pacing === undefined || pacing.mayRead(buffered) ? undefined : waits.until((wake) => pacing.onReady(wake))),
      stopped,
    });
    if (after === undefined || stopped()) return false;
    position.snapshotEnded(after);
    return true;
  }

  /**
   * Reads the documents not delivered yet and hands them on; resolves with
   * the operation time the change stream must start at, or `undefined` if
   * reading stopped.
   */
  private async read(reading: SnapshotReading): Promise<Timestamp | undefined> {
    const { db, collection } = this.source;
    this.time ??= await this.clusterTime();
    const time = this.time;
    // $expr compares across BSON types in sort order, as $sort does (a query $gt would skip other types).
    const resume = this.last === undefined ? [] : [{ $match: { $expr: { $gt: ['$_id', { $literal: this.last.id }] } } }];
    const cursor = db.runCursorCommand({
      aggregate: collection,
      pipeline: [
        ...resume,
        { $sort: { _id: 1 } },
        {
          $replaceWith: {
            operationType: { $literal: 'snapshot' },
            clusterTime: { $literal: time },
            fullDocument: '$$ROOT',
            documentKey: { _id: '$_id' },
            ns: { db: { $literal: db.databaseName }, coll: { $literal: collection } },
          },
        },
        ...this.pipeline,
      ],
      cursor: this.batchSize === undefined ? {} : { batchSize: this.batchSize },
      readConcern: { level: 'snapshot', atClusterTime: time },
    });
    if (this.batchSize !== undefined) cursor.setBatchSize(this.batchSize);
    this.cursor = cursor;
    try {
      while (!reading.stopped()) {
        const wait = reading.paced(cursor.bufferedCount());
        if (wait !== undefined) {
          await wait;
          continue;
        }
        const event = await cursor.tryNext();
        if (reading.stopped()) break;
        if (event === null) {
          if (!cursor.closed && cursor.id?.isZero() !== true) continue;
          this.finished = true;
          return after(time);
        }
        const key = (event.documentKey as { _id?: unknown } | undefined)?._id;
        if (key !== undefined) this.last = { id: key };
        reading.deliver(event);
        if (cursor.bufferedCount() === 0) reading.batchEnded();
      }
      return undefined;
    } finally {
      this.cursor = undefined;
      await cursor.close().catch(() => {});
    }
  }

  /** Closes the cursor of a read in progress. */
  stop(): void {
    void this.cursor?.close().catch(() => {});
  }

  /** The time to read at: the newest majority-committed one the server picks for a snapshot read. */
  private async clusterTime(): Promise<Timestamp> {
    const { db, collection } = this.source;
    const reply = await db.command({ find: collection, filter: {}, limit: 1, singleBatch: true, readConcern: { level: 'snapshot' } });
    const time: unknown = (reply.cursor as { atClusterTime?: unknown } | undefined)?.atClusterTime;
    if (!isTimestamp(time)) {
      throw new RxMongoError('watch() option initialSnapshot needs snapshot reads (a MongoDB 5.0+ replica set or sharded cluster); the server gave no atClusterTime');
    }
    return time;
  }
}

/** The first operation time after `time`: changes at `time` itself are in the snapshot. */
function after(time: Timestamp): Timestamp {
  return time.i === 0xffff_ffff ? new Timestamp({ t: time.t + 1, i: 0 }) : new Timestamp({ t: time.t, i: time.i + 1 });
}
