/**
 * Snapshot reads outside transactions (MongoDB 5.0+): `readConcern: {
 * level: 'snapshot' }` on find, aggregate and distinct reads the data as it
 * was at one cluster time and says which (`atClusterTime`); a snapshot
 * session reads at that time again; a client may name the time; writes with
 * snapshot read concern are refused. Then the initial-snapshot handoff a
 * consumer needs: read at time T, open a change stream after T, and see
 * every later change exactly once.
 */
import { Timestamp, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import { driverClient } from '../support/backend';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('snap');
const SNAPSHOT = { level: 'snapshot' };

/** The cluster time just after `t`: a change stream starting there sees nothing at or before `t`. */
const after = (t: Timestamp) => new Timestamp({ t: t.high, i: t.low + 1 });

describe('snapshot reads', () => {
  it('answer with atClusterTime and read what was there at it, not what came later', async () => {
    const coll = await scratch.fresh([{ _id: 1 }]);
    const first = await scratch.db.command({ insert: coll.collectionName, documents: [{ _id: 2 }] });
    const at = first.operationTime as Timestamp;
    await coll.insertOne({ _id: 3 });
    const reply = await scratch.db.command({ find: coll.collectionName, readConcern: { ...SNAPSHOT, atClusterTime: at } });
    expect(reply.cursor.atClusterTime).toEqual(at);
    expect(reply.cursor.firstBatch.map((d: Document) => d._id)).toEqual([1, 2]);
    const latest = await scratch.db.command({ find: coll.collectionName, readConcern: SNAPSHOT });
    expect(latest.cursor.atClusterTime).toBeInstanceOf(Timestamp);
    expect(latest.cursor.firstBatch).toHaveLength(3);
    const plain = await scratch.db.command({ find: coll.collectionName });
    expect(plain.cursor.atClusterTime).toBeUndefined();
  });

  it('work for aggregate and distinct, which answer atClusterTime too', async () => {
    const coll = await scratch.fresh([{ _id: 1, k: 'a' }]);
    const { operationTime } = await scratch.db.command({ insert: coll.collectionName, documents: [{ _id: 2, k: 'b' }] });
    await coll.updateOne({ _id: 1 }, { $set: { k: 'z' } });
    const readConcern = { ...SNAPSHOT, atClusterTime: operationTime };
    const agg = await scratch.db.command({ aggregate: coll.collectionName, pipeline: [{ $sort: { _id: 1 } }], cursor: {}, readConcern });
    expect(agg.cursor.firstBatch).toEqual([{ _id: 1, k: 'a' }, { _id: 2, k: 'b' }]);
    expect(agg.cursor.atClusterTime).toEqual(operationTime);
    const distinct = await scratch.db.command({ distinct: coll.collectionName, key: 'k', readConcern });
    expect(distinct.values).toEqual(['a', 'b']);
  });

  it('a snapshot session reads every collection at the time of its first read', async () => {
    const client: MongoClient = driverClient({ monitorCommands: true });
    const finds: CommandStartedEvent[] = [];
    client.on('commandStarted', (e) => e.commandName === 'find' && finds.push(e));
    const session = client.startSession({ snapshot: true });
    try {
      const db = client.db(scratch.db.databaseName);
      const a = await scratch.fresh([{ _id: 'a1' }]);
      const b = await scratch.fresh([{ _id: 'b1' }]);
      expect(await db.collection(a.collectionName).find({}, { session }).toArray()).toEqual([{ _id: 'a1' }]);
      await b.insertOne({ _id: 'b2' });
      await a.insertOne({ _id: 'a2' });
      expect(await db.collection(b.collectionName).find({}, { session }).toArray()).toEqual([{ _id: 'b1' }]);
      expect(await db.collection(a.collectionName).find({}, { session }).toArray()).toEqual([{ _id: 'a1' }]);
      expect(finds[1].command.readConcern.atClusterTime).toEqual(finds[2].command.readConcern.atClusterTime);
    } finally {
      await session.endSession();
      await client.close();
    }
  });

  it.each([
    ['insert', (c: string) => ({ insert: c, documents: [{ _id: 0 }] })],
    ['update', (c: string) => ({ update: c, updates: [{ q: { _id: 0 }, u: { $set: { x: 1 } } }] })],
    ['delete', (c: string) => ({ delete: c, deletes: [{ q: { _id: 0 }, limit: 1 }] })],
    ['findAndModify', (c: string) => ({ findAndModify: c, query: { _id: 0 }, remove: true })],
  ])('refuse %s with InvalidOptions', async (_name, command) => {
    const coll = await scratch.fresh([{ _id: 0 }]);
    const error = await serverError(scratch.db.command({ ...command(coll.collectionName), readConcern: SNAPSHOT }));
    expect(error.code).toBe(72);
    expect(await coll.countDocuments()).toBe(1);
  });

  it('refuse a capped collection with SnapshotUnavailable', async () => {
    const name = scratch.freshName();
    await scratch.db.createCollection(name, { capped: true, size: 4096 });
    const error = await serverError(scratch.db.command({ find: name, readConcern: SNAPSHOT }));
    expect(error.code).toBe(246);
  });
});

describe('the snapshot-then-changes handoff', () => {
  it('a snapshot at T and a change stream from just after T give every document once, with no gap', async () => {
    const coll = await scratch.fresh(Array.from({ length: 5 }, (_, i) => ({ _id: i, v: 0 })));
    // Take the cluster time, read at it, open the stream at it.
    const read = await scratch.db.command({ find: coll.collectionName, readConcern: SNAPSHOT, batchSize: 2 });
    const t = read.cursor.atClusterTime as Timestamp;
    // Writes race the snapshot's later batches; the snapshot must not see them.
    await coll.updateOne({ _id: 0 }, { $set: { v: 1 } });
    await coll.insertOne({ _id: 5, v: 0 });
    const rest = await scratch.db.command({ getMore: read.cursor.id, collection: coll.collectionName });
    const snapshot = [...read.cursor.firstBatch, ...rest.cursor.nextBatch] as Document[];
    expect(snapshot).toEqual(Array.from({ length: 5 }, (_, i) => ({ _id: i, v: 0 })));
    const stream = coll.watch([], { startAtOperationTime: after(t), maxAwaitTimeMS: 100 });
    try {
      const changes = [(await stream.next()) as Document, (await stream.next()) as Document];
      expect(changes.map((e) => [e.operationType, e.documentKey._id])).toEqual([['update', 0], ['insert', 5]]);
      expect(changes.every((e) => (e.clusterTime as Timestamp).greaterThan(t))).toBe(true);
      expect(await stream.tryNext()).toBeNull();
    } finally {
      await stream.close();
    }
  });

  it('startAtOperationTime is inclusive: a stream at T itself also shows the write made at T', async () => {
    const coll = await scratch.fresh();
    const { operationTime } = await scratch.db.command({ insert: coll.collectionName, documents: [{ _id: 'at-t' }] });
    const stream = coll.watch([], { startAtOperationTime: operationTime, maxAwaitTimeMS: 100 });
    try {
      const event = (await stream.next()) as Document;
      expect(event.documentKey).toEqual({ _id: 'at-t' });
      expect(event.clusterTime).toEqual(operationTime);
    } finally {
      await stream.close();
    }
  });
});
