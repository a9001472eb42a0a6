/**
 * What a member of the consumer-group demo (and of the group spec) watches:
 * the inserts and updates of a collection of counters, each document's `s`
 * counting its writes (0 at its insert), so that the member's log shows
 * whether a document's changes came in order.
 */
import type { ChangeStreamInsertDocument, ChangeStreamUpdateDocument } from 'mongodb';
import type { RxChangeStream, RxDatabase } from '../../lib';
import { checkpointStore } from '../support/child';

/** A counter document. */
interface Counter {
  _id: number;
  s: number;
}

/** A change to a counter. */
type CounterChange = ChangeStreamInsertDocument<Counter> | ChangeStreamUpdateDocument<Counter>;

export interface MemberOptions {
  /** The group's checkpoint key. */
  key: string;
  partitions: number;
  leaseMS: number;
  maxAwaitTimeMS: number;
  /** Checkpoint after this many changes or ms, whichever comes first. */
  every: { events: number; ms: number };
}

/** The changes of `<db>.<collection>`, consumed as a member of group `options.key` (checkpoints in `<db>.checkpoints`). */
export function watchAsMember(db: RxDatabase, collection: string, options: MemberOptions): RxChangeStream<Counter, CounterChange> {
  return db.collection<Counter>(collection).watch<Counter, CounterChange>([{ $match: { operationType: { $in: ['insert', 'update'] } } }], {
    maxAwaitTimeMS: options.maxAwaitTimeMS,
    checkpoint: { store: checkpointStore(db), key: options.key, every: options.every },
    group: { partitions: options.partitions, leaseMS: options.leaseMS },
  });
}

/** The count `change` wrote: the document's `s`. */
export function sequenceOf(change: CounterChange): number {
  return change.operationType === 'insert' ? change.fullDocument.s : (change.updateDescription.updatedFields?.s as number);
}
