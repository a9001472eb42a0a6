/**
 * A change stream cursor: reads the oplog from its position, turns entries
 * into events, swallows what precedes the resume point, runs the user's
 * pipeline, and serves batches with a postBatchResumeToken. An awaitData
 * getMore with nothing to return waits for the store's next write or for
 * `maxTimeMS`, whichever comes first.
 */
import { BSON, type Document, type Timestamp } from 'bson';
import { AwaitData, DEFAULT_AWAIT_MS } from '../await-data';
import type { Batch, CursorSource } from '../cursors';
import { CommandError } from '../errors';
import { runPipeline } from '../query';
import { sameValue, type OplogEntry, type Store } from '../store';
import { MAX_EVENT_SIZE, MAX_FRAGMENT_SIZE, addImages, eventsFor, isClassic, splitEvent } from './events';
import type { StreamSpec } from './spec';
import { encodeToken, highWaterMark, nextTimestamp, timestampKey, withoutFragment } from './token';

/** A batch stops growing at mongod's 16 MiB (it always holds at least one event). */
const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** An oplog position as one number: cluster time, then txnOpIndex. */
function position(clusterTime: Timestamp, txnOpIndex: number): bigint {
  return (timestampKey(clusterTime) << 32n) | BigInt(txnOpIndex);
}

interface ResumePoint {
  /** `_data` of the event resumed after, without a fragment number. */
  data: string;
  /** The last fragment delivered, when resuming inside a split event. */
  fragment?: number;
  found: boolean;
}

/** The cursor behind one change stream; see the file comment. */
export class ChangeStreamSource implements CursorSource {
  /** The next oplog position to read. */
  private from: bigint;
  /** Events produced but not yet delivered (a full batch, an invalidate, fragments). */
  private readonly pending: Document[] = [];
  /** `_data` of the postBatchResumeToken; only ever moves forward. */
  private pbrt: string;
  /** Set while resuming from an event that has not been passed yet. */
  private resume?: ResumePoint;
  private invalidated = false;
  private served = false;
  private readonly awaitData: AwaitData;

  constructor(
    private readonly store: Store,
    private readonly spec: StreamSpec,
  ) {
    this.awaitData = new AwaitData(store);
    const start = spec.start;
    if (!start) {
      // One tick past the newest operation, as mongod starts a new stream.
      const time = nextTimestamp(store.clusterTime);
      this.from = position(time, 0);
      this.pbrt = highWaterMark(time);
    } else if (start.kind === 'startAtOperationTime') {
      this.from = position(start.time, 0);
      this.pbrt = highWaterMark(start.time);
    } else if (start.token.highWaterMark) {
      this.from = position(start.token.clusterTime, 0);
      this.pbrt = highWaterMark(start.token.clusterTime);
    } else {
      const { token } = start;
      // The event itself is read again: finding it proves the history is intact.
      this.from = position(token.clusterTime, token.txnOpIndex);
      this.pbrt = encodeToken(token);
      this.resume = { data: withoutFragment(token), fragment: token.fragment, found: false };
    }
    this.checkHistory();
  }

  async next(batchSize: number | undefined, maxTimeMS: number | undefined, signal?: AbortSignal): Promise<Batch> {
    const deadline = Date.now() + (maxTimeMS ?? DEFAULT_AWAIT_MS);
    for (;;) {
      this.checkHistory();
      const docs = this.fill(batchSize);
      this.served = true;
      if (docs.length > 0 || this.invalidated || batchSize === 0) return this.batch(docs);
      const wait = deadline - Date.now();
      if (wait <= 0) return this.batch(docs);
      await this.awaitData.wait(wait, signal);
    }
  }

  close(): void {
    this.awaitData.kill();
  }

  private batch(docs: Document[]): Batch {
    return {
      docs,
      exhausted: this.invalidated && this.pending.length === 0,
      extra: { postBatchResumeToken: { _data: this.pbrt } },
    };
  }

  /**
   * Resuming before the oldest retained entry fails as on mongod: the
   * aggregate with ChangeStreamHistoryLost, an open cursor that fell behind
   * with CappedPositionLost (its oplog scan position was deleted).
   */
  private checkHistory(): void {
    const start = this.store.historyStart;
    if (this.from >= position(start.clusterTime, start.txnOpIndex)) return;
    if (!this.served) {
      throw new CommandError(
        'ChangeStreamHistoryLost',
        'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
      );
    }
    throw new CommandError(
      'CappedPositionLost',
      `CollectionScan died due to position in capped collection being deleted. Last seen record id: RecordId(${this.from >> 32n})`,
    );
  }

  /** Reads the oplog until the batch is full or nothing is left; updates the postBatchResumeToken. */
  private fill(batchSize: number | undefined): Document[] {
    const out: Document[] = [];
    let bytes = 0;
    let full = false;
    let reachedEnd = false;
    for (;;) {
      while (this.pending.length > 0 && (batchSize === undefined || out.length < batchSize)) {
        const size = BSON.calculateObjectSize(this.pending[0]);
        if (out.length > 0 && bytes + size > MAX_BATCH_BYTES) {
          full = true;
          break;
        }
        out.push(this.pending.shift()!);
        bytes += size;
      }
      if (full || this.pending.length > 0 || out.length === batchSize || this.invalidated) break;
      const entry = this.nextEntry();
      if (!entry) {
        reachedEnd = true;
        break;
      }
      this.from = position(entry.clusterTime, entry.txnOpIndex) + 1n;
      this.pending.push(...this.process(entry));
    }
    const last = out[out.length - 1];
    if (last) this.advance((last._id as Document)._data as string);
    const newest = this.store.oplog[this.store.oplog.length - 1];
    if (reachedEnd && this.pending.length === 0 && newest) {
      // The whole oplog was scanned: as mongod, the token moves to the newest entry's time, so a quiet or
      // filtered stream keeps up. After an event at that time, the event's own token is the greater.
      this.advance(highWaterMark(newest.clusterTime));
    }
    return out;
  }

  private advance(data: string): void {
    if (data > this.pbrt) this.pbrt = data;
  }

  /** The first retained entry at or after the stream's position (the oplog is ordered by position). */
  private nextEntry(): OplogEntry | undefined {
    const oplog = this.store.oplog;
    let lo = 0;
    let hi = oplog.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (position(oplog[mid].clusterTime, oplog[mid].txnOpIndex) < this.from) lo = mid + 1;
      else hi = mid;
    }
    return oplog[lo];
  }

  /** The documents one entry contributes to the stream, in order. */
  private process(entry: OplogEntry): Document[] {
    const out: Document[] = [];
    for (const event of eventsFor(this.spec, entry)) {
      let skipFragments = 0;
      const resume = this.resume;
      if (resume) {
        if (event.data < resume.data) continue;
        if (event.data === resume.data) {
          resume.found = true;
          if (resume.fragment === undefined) continue;
          skipFragments = resume.fragment + 1;
          this.resume = undefined;
        } else {
          if (!resume.found) {
            throw new CommandError(
              'ChangeStreamFatalError',
              `cannot resume stream; the resume token was not found. {_data: "${event.data}"}`,
            );
          }
          this.resume = undefined;
        }
      }
      addImages(this.spec, this.store, event);
      if (event.invalidate) this.invalidated = true;
      if (!this.spec.showExpandedEvents && !isClassic(event.doc.operationType as string)) continue;
      const doc = this.transform(event.doc);
      if (!doc) continue;
      const size = BSON.calculateObjectSize(doc);
      if (this.spec.splitLargeEvents && size > MAX_FRAGMENT_SIZE) {
        const fragments = splitEvent(doc, event.token, skipFragments);
        if (fragments.length === 0) {
          throw new CommandError(
            'ChangeStreamFatalError',
            'Attempted to resume from a split event, but the resumed stream produced a different split. Ensure that the pipeline used to resume is the same as the original',
          );
        }
        out.push(...fragments);
      } else if (skipFragments > 0) {
        throw new CommandError(
          'ChangeStreamFatalError',
          'Attempted to resume from a split event fragment, but the event in the resumed stream was not large enough to be split',
        );
      } else if (size > MAX_EVENT_SIZE) {
        const first = Object.keys(doc)[0];
        throw new CommandError(
          'BSONObjectTooLarge',
          `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_EVENT_SIZE}(16MB) First element: ${first}: ${JSON.stringify(doc[first])}`,
        );
      } else {
        out.push(doc);
      }
    }
    return out;
  }

  /** The user's pipeline over one event: the event, its reshaped form, or nothing. */
  private transform(doc: Document): Document | undefined {
    if (this.spec.pipeline.length === 0) return doc;
    const [result] = runPipeline([doc], this.spec.pipeline, { collection: () => [] });
    if (result && !sameValue(result._id, doc._id)) {
      throw new CommandError(
        'ChangeStreamFatalError',
        'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.',
      );
    }
    return result;
  }
}
