/**
 * The oplog window as mongod shows it: `local.oplog.rs` is readable, its
 * first and last entries (`ts`, `wall`) bound the history a change stream
 * can resume from, and `replSetGetStatus` reports the newest applied
 * optime. On the wire server the history size is configurable
 * (`ReplicaSet.start({ historySize })`, `--history-size`), so a spec can make
 * history fall off: a resume from before the first entry is
 * ChangeStreamHistoryLost (286); a stream whose open cursor fell behind gets
 * CappedPositionLost (136) on its next getMore instead (its scan position
 * was deleted), as on mongod.
 */
import { MongoClient, Timestamp, type Document } from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith } from '../support/backend';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('oplog');

const oplog = (client: MongoClient) => client.db('local').collection('oplog.rs');
const first = (client: MongoClient) => oplog(client).find().sort({ $natural: 1 }).limit(1).next();
const last = (client: MongoClient, filter: Document = {}) => oplog(client).find(filter).sort({ $natural: -1 }).limit(1).next();

describe('the oplog window', () => {
  it('local.oplog.rs holds entries from the first to the newest, with ts and wall', async () => {
    const oldest = await first(scratch.client);
    expect(oldest?.ts).toBeInstanceOf(Timestamp);
    expect(oldest?.wall).toBeInstanceOf(Date);
    const coll = await scratch.fresh();
    const ns = `${scratch.db.databaseName}.${coll.collectionName}`;
    await coll.insertOne({ _id: 'w', a: 1 });
    const newest = await last(scratch.client, { ns, op: 'i' });
    expect(newest).toMatchObject({ op: 'i', ns, o: { _id: 'w', a: 1 } });
    expect((newest!.ts as Timestamp).greaterThan(oldest!.ts as Timestamp)).toBe(true);
    expect((newest!.wall as Date).getTime()).toBeGreaterThanOrEqual((oldest!.wall as Date).getTime());
  });

  it('records the time a change event carries, so an event can be placed in the window', async () => {
    const coll = await scratch.fresh();
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    try {
      expect(await stream.tryNext()).toBeNull();
      await coll.insertOne({ _id: 'e' });
      const event = (await stream.next()) as Document;
      const entry = await last(scratch.client, { ns: `${scratch.db.databaseName}.${coll.collectionName}`, op: 'i' });
      expect((entry!.ts as Timestamp).equals(event.clusterTime as Timestamp)).toBe(true);
    } finally {
      await stream.close();
    }
  });

  it('replSetGetStatus reports the newest applied optime and its wall time', async () => {
    const coll = await scratch.fresh();
    const { operationTime } = await scratch.db.command({ insert: coll.collectionName, documents: [{ _id: 1 }] });
    const status = await scratch.client.db('admin').command({ replSetGetStatus: 1 });
    const applied = status.optimes.appliedOpTime.ts as Timestamp;
    expect(applied.greaterThanOrEqual(operationTime as Timestamp)).toBe(true);
    expect(status.optimes.lastAppliedWallTime).toBeInstanceOf(Date);
    expect(status.members.find((m: Document) => m.self)?.optime.ts).toBeInstanceOf(Timestamp);
  });

  it('refuses writes to the oplog', async () => {
    const error = await serverError(oplog(scratch.client).insertOne({ op: 'n' }));
    expect(error.code).toBeGreaterThan(0);
  });
});

describeWith(['historyControl'], 'history falling off a small oplog', () => {
  const HISTORY = 6;
  let rs: ReplicaSet;
  let client: MongoClient;

  beforeAll(async () => {
    rs = await ReplicaSet.start({ members: 1, historySize: HISTORY });
    client = new MongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
    await rs.close();
  });

  it('moves the first entry forward as writes go, and a resume from before it is ChangeStreamHistoryLost', async () => {
    const coll = client.db('window').collection<{ _id: number }>('c');
    const stream = coll.watch([], { maxAwaitTimeMS: 50 });
    expect(await stream.tryNext()).toBeNull();
    await coll.insertOne({ _id: 0 });
    const event = (await stream.next()) as Document;
    await stream.close();
    const before = (await first(client))!.ts as Timestamp;
    // The event is still inside the window: a resume from it works.
    expect(before.greaterThan(event.clusterTime as Timestamp)).toBe(false);
    for (let i = 1; i <= HISTORY; i++) await coll.insertOne({ _id: i });
    const after = (await first(client))!.ts as Timestamp;
    expect(after.greaterThan(event.clusterTime as Timestamp)).toBe(true);
    expect(await oplog(client).countDocuments()).toBe(HISTORY);
    const lost = await serverError(coll.watch([], { resumeAfter: event._id }).next());
    expect(lost.code).toBe(286);
    expect(lost.codeName).toBe('ChangeStreamHistoryLost');
  });
});
