/**
 * The `onPrimaryTransactionalWrite` fail point, which acts on each statement
 * of a retryable write: `closeConnection` drops the connection after the
 * statement is applied, so the driver's retry must find it done and not
 * apply it again; `failBeforeCommitExceptionCode` fails the statement
 * without applying it, and a retry with the same txnNumber runs only the
 * statements that did not go through.
 *
 * The fail point has no appName filter, so on a shared deployment it would
 * hit other spec files' retryable writes: these specs run on a replica set
 * of their own.
 */
import { Long, MongoClient, type CommandStartedEvent, type Document } from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith } from '../support/backend';

describeWith(['failCommand', 'topologyControl'], 'onPrimaryTransactionalWrite (needs a deployment of its own)', () => {
  let rs: ReplicaSet;
  let client: MongoClient;
  let inserts: CommandStartedEvent[];

  const configure = (mode: unknown, data: Document = {}) =>
    client.db('admin').command({ configureFailPoint: 'onPrimaryTransactionalWrite', mode, data });

  beforeAll(async () => {
    rs = await ReplicaSet.start({ members: 1 });
    client = new MongoClient(rs.uri, { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
    client.on('commandStarted', (e) => {
      if (e.commandName === 'insert' || e.commandName === 'update') inserts.push(e);
    });
    await client.connect();
  });

  beforeEach(() => {
    inserts = [];
  });

  afterEach(async () => {
    await configure('off');
  });

  afterAll(async () => {
    await client.close();
    await rs.close();
  });

  it('drops the connection after an insert is applied; the retry finds it done and inserts once', async () => {
    const coll = client.db('opw').collection('insert');
    await configure({ times: 1 }, { closeConnection: true });
    await coll.insertOne({ _id: 'once' } as Document);
    expect(inserts).toHaveLength(2);
    expect(inserts[1].command.txnNumber).toEqual(inserts[0].command.txnNumber);
    expect(await coll.countDocuments()).toBe(1);
  });

  it('closes the connection by default, and a retried $inc is applied once', async () => {
    const coll = client.db('opw').collection('inc');
    await coll.insertOne({ _id: 'c', n: 0 } as Document);
    inserts = [];
    await configure({ times: 1 });
    await coll.updateOne({ _id: 'c' } as Document, { $inc: { n: 1 } });
    expect(inserts).toHaveLength(2);
    expect(await coll.findOne({ _id: 'c' } as Document)).toEqual({ _id: 'c', n: 1 });
  });

  it('fails a statement before it commits; a retry runs only what did not go through', async () => {
    // As mongod's own test of this fail point: two ordered updates, the second fails.
    const db = client.db('opw');
    await db.collection('user').insertMany([{ _id: 0, x: 0, y: 0 }, { _id: 1, x: 1, y: 0 }] as Document[]);
    await configure({ skip: 1 }, { closeConnection: false, failBeforeCommitExceptionCode: 1 });
    const session = client.startSession();
    try {
      const cmd = {
        update: 'user',
        updates: [{ q: { x: 0 }, u: { $inc: { y: 1 } } }, { q: { x: 1 }, u: { $inc: { y: 1 } } }],
        ordered: true,
        txnNumber: Long.fromNumber(7),
      };
      const first = await db.command(cmd, { session });
      expect(first.nModified).toBe(1);
      expect(first.writeErrors).toHaveLength(1);
      expect(first.writeErrors[0]).toMatchObject({ index: 1, code: 1 });
      await configure('off');
      const retry = await db.command(cmd, { session });
      expect(retry.nModified).toBe(2);
      expect(retry.writeErrors).toBeUndefined();
    } finally {
      await session.endSession();
    }
    const docs = await db.collection('user').find().sort({ x: 1 }).toArray();
    expect(docs.map((d) => d.y)).toEqual([1, 1]);
  });
});
