/**
 * Retryable writes: the server remembers the reply of the write with a
 * session's `txnNumber` and answers a retry with it instead of writing
 * again; the driver retries after a network error (fail point
 * `closeConnection`) with the same `lsid` + `txnNumber`.
 */
import { Long, MongoNetworkError, type ClientSession, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import { describeWith, driverClient, uniqueDbName } from '../support/backend';

/**
 * Increasing txnNumbers: the driver pools server sessions, so a later test may
 * get a session on which earlier ones already used some numbers.
 */
let lastTxnNumber = 1_000;
const nextTxnNumber = () => Long.fromNumber((lastTxnNumber += 10));

describe('retryable-write de-duplication on the run backend', () => {
  let client: MongoClient;
  let session: ClientSession;
  const dbName = uniqueDbName('retry');

  beforeAll(async () => {
    client = driverClient();
    await client.connect();
  });

  beforeEach(() => {
    session = client.startSession();
  });

  afterEach(async () => {
    await session.endSession();
  });

  afterAll(async () => {
    await client.db(dbName).dropDatabase();
    await client.close();
  });

  it('answers a repeated insert with the first reply and inserts once', async () => {
    const db = client.db(dbName);
    const command = { insert: 'dedup', documents: [{ _id: 1 }, { _id: 2 }], txnNumber: nextTxnNumber() };
    const first = await db.command(command, { session });
    const second = await db.command(command, { session });
    expect(first.n).toBe(2);
    expect(second.n).toBe(2);
    expect(second.writeErrors).toBeUndefined();
    expect(await db.collection('dedup').countDocuments()).toBe(2);
  });

  it('applies a repeated $inc once', async () => {
    const db = client.db(dbName);
    await db.collection('counter').insertOne({ _id: 'c', n: 0 } as Document);
    const command = { update: 'counter', updates: [{ q: { _id: 'c' }, u: { $inc: { n: 1 } } }], txnNumber: nextTxnNumber() };
    for (let i = 0; i < 3; i++) expect(await db.command(command, { session })).toMatchObject({ n: 1, nModified: 1 });
    expect(await db.collection('counter').findOne({ _id: 'c' } as Document)).toEqual({ _id: 'c', n: 1 });
  });

  it('runs a write with a new txnNumber again', async () => {
    const db = client.db(dbName);
    await db.collection('again').insertOne({ _id: 'a', n: 0 } as Document);
    const inc = (txnNumber: Long) =>
      db.command({ update: 'again', updates: [{ q: { _id: 'a' }, u: { $inc: { n: 1 } } }], txnNumber }, { session });
    await inc(nextTxnNumber());
    await inc(nextTxnNumber());
    expect(await db.collection('again').findOne({ _id: 'a' } as Document)).toEqual({ _id: 'a', n: 2 });
  });

  it('refuses a txnNumber older than the newest on the session with TransactionTooOld', async () => {
    const db = client.db(dbName);
    const older = nextTxnNumber();
    await db.command({ insert: 'old', documents: [{ _id: 'new' }], txnNumber: nextTxnNumber() }, { session });
    await expect(
      db.command({ insert: 'old', documents: [{ _id: 'old' }], txnNumber: older }, { session }),
    ).rejects.toMatchObject({ code: 225, codeName: 'TransactionTooOld' });
    expect(await db.collection('old').countDocuments()).toBe(1);
  });

  it('answers a repeated findAndModify with the first result', async () => {
    const db = client.db(dbName);
    await db.collection('fam').insertOne({ _id: 'f', n: 0 } as Document);
    const command = { findAndModify: 'fam', query: { _id: 'f' }, update: { $inc: { n: 5 } }, new: true, txnNumber: nextTxnNumber() };
    const first = await db.command(command, { session });
    const second = await db.command(command, { session });
    expect(first.value).toEqual({ _id: 'f', n: 5 });
    expect(second.value).toEqual({ _id: 'f', n: 5 });
    expect(await db.collection('fam').findOne({ _id: 'f' } as Document)).toEqual({ _id: 'f', n: 5 });
  });
});

describeWith(['failCommand'], 'driver retries after a dropped connection', () => {
  const APP = `retryable-writes-spec-${process.pid}`;
  let admin: MongoClient;
  const dbName = uniqueDbName('retry');

  beforeAll(async () => {
    admin = driverClient();
    await admin.connect();
  });

  afterEach(async () => {
    await admin.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
  });

  afterAll(async () => {
    await admin.db(dbName).dropDatabase();
    await admin.close();
  });

  async function withClient(retryWrites: boolean, body: (client: MongoClient, inserts: () => Document[]) => Promise<void>) {
    const client = driverClient({ appName: APP, retryWrites, monitorCommands: true });
    const started: CommandStartedEvent[] = [];
    client.on('commandStarted', (e) => started.push(e));
    try {
      await client.connect();
      await admin.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['insert', 'findAndModify'], closeConnection: true, appName: APP },
      });
      await body(client, () => started.filter((e) => e.commandName === 'insert').map((e) => e.command));
    } finally {
      await client.close();
    }
  }

  it('retries an insert once with the same lsid and txnNumber, writing once', async () => {
    await withClient(true, async (client, inserts) => {
      const collection = client.db(dbName).collection('net');
      await collection.insertOne({ _id: 'net' } as Document);
      const [first, retry] = inserts();
      expect(inserts()).toHaveLength(2);
      expect(retry.lsid).toEqual(first.lsid);
      expect(retry.txnNumber).toEqual(first.txnNumber);
      expect(await collection.countDocuments()).toBe(1);
    });
  });

  it('retries a findOneAndUpdate and applies it once', async () => {
    await withClient(true, async (client) => {
      const collection = client.db(dbName).collection('net-fam');
      await admin.db(dbName).collection('net-fam').insertOne({ _id: 'x', n: 0 } as Document);
      const result = await collection.findOneAndUpdate({ _id: 'x' } as Document, { $inc: { n: 1 } }, { returnDocument: 'after' });
      expect(result).toEqual({ _id: 'x', n: 1 });
      expect(await collection.findOne({ _id: 'x' } as Document)).toEqual({ _id: 'x', n: 1 });
    });
  });

  it('surfaces the network error when retryWrites is off', async () => {
    await withClient(false, async (client, inserts) => {
      const error = await client.db(dbName).collection('noretry').insertOne({ a: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MongoNetworkError);
      expect(inserts()).toHaveLength(1);
      expect(inserts()[0].txnNumber).toBeUndefined();
    });
  });
});
