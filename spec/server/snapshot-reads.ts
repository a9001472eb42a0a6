/**
 * `readConcern: { level: 'snapshot' }` outside a transaction (MongoDB 5.0+):
 * find, aggregate and distinct read the data as it was at one cluster time,
 * `atClusterTime` if the client names one (a snapshot session's later
 * reads do), else the newest; the reply tells that time (`atClusterTime`
 * in the cursor, or at the top for distinct), so a session can read at it
 * again. Commands that write, and reads that do not support it, are refused.
 */
import { Timestamp, type Document } from 'bson';
import type { CommandContext, CommandSpec } from './commands/types';
import { CommandError } from './errors';
import { collectionAt } from './sessions';
import type { CollectionData, DataView, Mutation, Store } from './store';

/** What a snapshot read sees: every collection as it was at `time`; it writes nothing. */
class SnapshotView implements DataView {
  private readonly seen = new Map<string, CollectionData | null>();

  constructor(
    private readonly store: Store,
    readonly time: Timestamp,
  ) {}

  collection(db: string, coll: string): CollectionData | undefined {
    const ns = `${db}.${coll}`;
    if (!this.seen.has(ns)) {
      const data = collectionAt(this.store, db, coll, this.time);
      if (data?.options.capped) {
        throw new CommandError('SnapshotUnavailable', 'Reading from capped collections with readConcern snapshot is not supported');
      }
      this.seen.set(ns, data);
    }
    return this.seen.get(ns) ?? undefined;
  }

  write(_mutation: Mutation): void {
    throw new CommandError('InvalidOptions', 'a snapshot read cannot write');
  }
}

/**
 * Makes `ctx` read at a snapshot when the command asks for one outside a
 * transaction; returns the time it reads at, or undefined.
 */
export function beginSnapshotRead(ctx: CommandContext, spec: CommandSpec, cmd: Document): Timestamp | undefined {
  const readConcern = cmd.readConcern as Document | undefined;
  if (ctx.transaction || readConcern?.level !== 'snapshot') return undefined;
  if (!spec.snapshotReads) {
    throw new CommandError('InvalidOptions', `Command ${spec.name} does not support { readConcern: { level: "snapshot" } }`);
  }
  const asked = readConcern.atClusterTime;
  if (asked !== undefined && !(asked instanceof Timestamp)) {
    throw new CommandError('TypeMismatch', "BSON field 'readConcern.atClusterTime' is the wrong type, expected type 'timestamp'");
  }
  const store = ctx.store;
  const time = asked ?? store.clusterTime;
  if (time.greaterThan(store.clusterTime)) {
    throw new CommandError('InvalidOptions', `readConcern atClusterTime value ${time.toString()} must not be greater than the current clusterTime ${store.clusterTime.toString()}`);
  }
  if (time.lessThan(store.historyStart.clusterTime)) {
    throw new CommandError('SnapshotTooOld', `Read timestamp ${time.toString()} is older than the oldest available timestamp.`);
  }
  ctx.view = new SnapshotView(store, time);
  return time;
}

/** Tells the client the time a snapshot read read at. */
export function endSnapshotRead(reply: Document, time: Timestamp): void {
  const cursor = reply.cursor as Document | undefined;
  if (cursor) cursor.atClusterTime = time;
  else reply.atClusterTime = time;
}
