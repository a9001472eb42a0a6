/**
 * Multi-document transactions through the driver: commit and abort, write
 * conflicts (112) and NoSuchTransaction (251) with TransientTransactionError,
 * idempotent commit, a plain write that waits for the transaction holding its
 * document, and fault-driven retries of commit and of whole transactions.
 */
import {
  Long,
  MongoServerError,
  UUID,
  type ClientSession,
  type CommandStartedEvent,
  type Document,
  type MongoClient,
} from 'mongodb';
import { describeWith, driverClient, uniqueDbName } from '../support/backend';
import { WireClient } from './wire-client';

/** Documents with the plain `_id`s these specs use. */
interface Doc {
  _id: string | number;
  // Free-form fields, so $inc and $set type-check.
  [field: string]: any;
}

const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => e);

describe('transactions on the run backend', () => {
  let client: MongoClient;
  const dbName = uniqueDbName('txn');
  const sessions: ClientSession[] = [];

  const session = () => {
    const s = client.startSession();
    sessions.push(s);
    return s;
  };
  const coll = (name: string) => client.db(dbName).collection<Doc>(name);

  beforeAll(async () => {
    client = driverClient();
    await client.connect();
  });

  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.endSession();
  });

  afterAll(async () => {
    await client.db(dbName).dropDatabase();
    await client.close();
  });

  it('commits several writes to several collections at once', async () => {
    await coll('accounts').insertMany([{ _id: 'a', balance: 100 }, { _id: 'b', balance: 0 }]);
    const s = session();
    s.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' }, maxCommitTimeMS: 5_000 });
    await coll('accounts').updateOne({ _id: 'a' }, { $inc: { balance: -30 } }, { session: s });
    await coll('accounts').updateOne({ _id: 'b' }, { $inc: { balance: 30 } }, { session: s });
    await coll('ledger').insertOne({ _id: 1, from: 'a', to: 'b', amount: 30 }, { session: s });
    await s.commitTransaction();
    expect(await coll('accounts').find({}, { sort: { _id: 1 } }).toArray()).toEqual([
      { _id: 'a', balance: 70 },
      { _id: 'b', balance: 30 },
    ]);
    expect(await coll('ledger').countDocuments()).toBe(1);
  });

  it('commits at one cluster time: its change events share clusterTime, lsid and txnNumber', async () => {
    const stream = coll('one-time').watch();
    try {
      await stream.tryNext(); // opens the cursor before the writes
      const s = session();
      await s.withTransaction(async () => {
        await coll('one-time').insertOne({ _id: 1 }, { session: s });
        await coll('one-time').insertOne({ _id: 2 }, { session: s });
      });
      await coll('one-time').insertOne({ _id: 3 });
      const events: Document[] = [];
      while (events.length < 3) events.push(await stream.next());
      const [a, b, c] = events;
      expect([a.documentKey, b.documentKey, c.documentKey]).toEqual([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
      expect(a.clusterTime.equals(b.clusterTime)).toBe(true);
      expect(c.clusterTime.greaterThan(b.clusterTime)).toBe(true);
      expect(a.txnNumber).toEqual(b.txnNumber);
      expect(a.lsid).toEqual(b.lsid);
      expect(c.txnNumber).toBeUndefined();
    } finally {
      await stream.close();
    }
  });

  it('discards everything on abort', async () => {
    const s = session();
    s.startTransaction();
    await coll('aborted').insertOne({ _id: 1 }, { session: s });
    await s.abortTransaction();
    expect(await coll('aborted').countDocuments()).toBe(0);
  });

  it('fails the second of two transactions writing one document with WriteConflict', async () => {
    await coll('conflict').insertOne({ _id: 'doc', n: 0 });
    const a = session();
    const b = session();
    a.startTransaction();
    b.startTransaction();
    await coll('conflict').updateOne({ _id: 'doc' }, { $inc: { n: 1 } }, { session: a });
    const error = await outcome(coll('conflict').updateOne({ _id: 'doc' }, { $inc: { n: 10 } }, { session: b }));
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({ code: 112, codeName: 'WriteConflict' });
    expect((error as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
    // The conflict aborted b; a goes on and commits.
    await expect(b.commitTransaction()).rejects.toMatchObject({ code: 251 });
    await a.commitTransaction();
    expect(await coll('conflict').findOne({ _id: 'doc' })).toEqual({ _id: 'doc', n: 1 });
  });

  it('fails a transaction writing a document changed after its snapshot with WriteConflict', async () => {
    await coll('stale').insertOne({ _id: 'doc', v: 'old' });
    const s = session();
    s.startTransaction();
    expect(await coll('stale').findOne({ _id: 'doc' }, { session: s })).toEqual({ _id: 'doc', v: 'old' });
    await coll('stale').updateOne({ _id: 'doc' }, { $set: { v: 'outside' } });
    const error = await outcome(coll('stale').updateOne({ _id: 'doc' }, { $set: { v: 'txn' } }, { session: s }));
    expect(error).toMatchObject({ code: 112 });
    expect((error as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
    await s.abortTransaction();
    expect(await coll('stale').findOne({ _id: 'doc' })).toEqual({ _id: 'doc', v: 'outside' });
  });

  it('makes a write outside any transaction wait for the transaction holding its document', async () => {
    await coll('wait').insertOne({ _id: 'doc', n: 0 });
    const s = session();
    s.startTransaction();
    await coll('wait').updateOne({ _id: 'doc' }, { $inc: { n: 1 } }, { session: s });
    let done = false;
    const outside = coll('wait').updateOne({ _id: 'doc' }, { $inc: { n: 100 } }).then((r) => {
      done = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(false);
    await s.commitTransaction();
    expect((await outside).modifiedCount).toBe(1);
    expect(await coll('wait').findOne({ _id: 'doc' })).toEqual({ _id: 'doc', n: 101 });
  });

  it('answers a commit of a transaction never started with NoSuchTransaction', async () => {
    // Raw, because the driver would put its own (pooled, possibly used) session and txnNumber on it.
    const { primary } = await client.db('admin').command({ hello: 1 });
    const wire = await WireClient.open(primary);
    try {
      const reply = await wire.command('admin', {
        commitTransaction: 1,
        lsid: { id: new UUID() },
        txnNumber: Long.fromNumber(1),
        autocommit: false,
      });
      expect(reply.doc).toMatchObject({ ok: 0, code: 251, codeName: 'NoSuchTransaction' });
      expect(reply.doc.errorLabels).toContain('TransientTransactionError');
    } finally {
      wire.close();
    }
  });

  it('answers a statement after an error in the transaction with NoSuchTransaction', async () => {
    await coll('dup').insertOne({ _id: 1 });
    const s = session();
    s.startTransaction();
    await expect(coll('dup').insertOne({ _id: 1 }, { session: s })).rejects.toMatchObject({ code: 11000 });
    const error = await outcome(coll('dup').insertOne({ _id: 2 }, { session: s }));
    expect(error).toMatchObject({ code: 251 });
    expect((error as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
    await s.abortTransaction().catch(() => undefined);
    expect(await coll('dup').countDocuments()).toBe(1);
  });

  it('commits idempotently: a repeated commitTransaction succeeds and writes nothing again', async () => {
    const s = session();
    s.startTransaction();
    await coll('twice').insertOne({ _id: 1 }, { session: s });
    await s.commitTransaction();
    // The driver sends commitTransaction again for the same txnNumber.
    await s.commitTransaction();
    expect(await coll('twice').countDocuments()).toBe(1);
  });

  it('refuses to abort a committed transaction', async () => {
    const s = session();
    s.startTransaction();
    await coll('committed').insertOne({ _id: 1 }, { session: s });
    await s.commitTransaction();
    await expect(s.abortTransaction()).rejects.toThrow();
    expect(await coll('committed').countDocuments()).toBe(1);
  });
});

describeWith(['failCommand'], 'transactions under fail points', () => {
  const APP = `transactions-spec-${process.pid}`;
  let admin: MongoClient;
  let client: MongoClient;
  let started: CommandStartedEvent[];
  const dbName = uniqueDbName('txnfp');

  const failOnce = (data: Document) =>
    admin.db('admin').command({ configureFailPoint: 'failCommand', mode: { times: 1 }, data: { appName: APP, ...data } });
  const names = (name: string) => started.filter((e) => e.commandName === name);

  beforeAll(async () => {
    admin = driverClient();
    await admin.connect();
  });

  beforeEach(async () => {
    client = driverClient({ appName: APP, monitorCommands: true });
    started = [];
    client.on('commandStarted', (e) => started.push(e));
    await client.connect();
  });

  afterEach(async () => {
    await admin.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    await client.close();
  });

  afterAll(async () => {
    await admin.db(dbName).dropDatabase();
    await admin.close();
  });

  it('retries a commit after the connection drops, committing once', async () => {
    const coll = client.db(dbName).collection<Doc>('commit-retry');
    await coll.insertOne({ _id: 'seed' });
    const s = client.startSession();
    try {
      s.startTransaction();
      await coll.insertOne({ _id: 'txn' }, { session: s });
      await failOnce({ failCommands: ['commitTransaction'], closeConnection: true });
      await s.commitTransaction();
      expect(names('commitTransaction')).toHaveLength(2);
      expect(await coll.countDocuments()).toBe(2);
    } finally {
      await s.endSession();
    }
  });

  it('labels a retryable commit error RetryableWriteError and keeps the transaction for the retry', async () => {
    const coll = client.db(dbName).collection<Doc>('commit-91');
    await coll.insertOne({ _id: 'seed' });
    const s = client.startSession();
    try {
      s.startTransaction();
      await coll.insertOne({ _id: 'txn' }, { session: s });
      await failOnce({ failCommands: ['commitTransaction'], errorCode: 91 });
      await s.commitTransaction();
      expect(names('commitTransaction')).toHaveLength(2);
      expect(await coll.countDocuments({ _id: 'txn' })).toBe(1);
    } finally {
      await s.endSession();
    }
  });

  it('retries the whole transaction in withTransaction after a transient error', async () => {
    const coll = client.db(dbName).collection<Doc>('with-txn');
    await coll.insertOne({ _id: 'seed' });
    await failOnce({ failCommands: ['insert'], errorCode: 112 });
    const s = client.startSession();
    try {
      await s.withTransaction(async () => {
        await coll.insertOne({ _id: 'once' }, { session: s });
      });
    } finally {
      await s.endSession();
    }
    const inserts = names('insert').filter((e) => e.command.autocommit === false);
    expect(inserts).toHaveLength(2);
    expect(inserts[0].command.txnNumber).not.toEqual(inserts[1].command.txnNumber);
    expect(await coll.countDocuments({ _id: 'once' })).toBe(1);
  });

  it('labels a failed statement in a transaction TransientTransactionError and aborts it', async () => {
    const coll = client.db(dbName).collection<Doc>('stmt-fail');
    await coll.insertOne({ _id: 'seed' });
    const s = client.startSession();
    try {
      s.startTransaction();
      await coll.insertOne({ _id: 'first' }, { session: s });
      await failOnce({ failCommands: ['insert'], errorCode: 10107 });
      const error = await outcome(coll.insertOne({ _id: 'second' }, { session: s }));
      expect(error).toMatchObject({ code: 10107 });
      expect((error as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
      await s.abortTransaction().catch(() => undefined);
      expect(await coll.countDocuments()).toBe(1);
    } finally {
      await s.endSession();
    }
  });
});
