/**
 * `configureFailPoint` with `failCommand`, as mongod has it with test
 * commands enabled: modes (`times`, `skip`, `alwaysOn`, `off`) and data
 * (`failCommands`, `errorCode`, `errorLabels`, `closeConnection`,
 * `blockConnection`/`blockTimeMS`, `appName`, `writeConcernError`). Every
 * fail point names this file's appName so no other client is hit.
 */
import {
  MongoClient,
  MongoNetworkError,
  MongoServerError,
  MongoWriteConcernError,
  type CommandFailedEvent,
  type CommandStartedEvent,
  type Document,
} from 'mongodb';
import { describeWith, driverClient, uniqueDbName } from '../support/backend';

const APP = `fail-points-spec-${process.pid}`;

describeWith(['failCommand'], 'failCommand fail points', () => {
  let admin: MongoClient;
  let client: MongoClient;
  let started: CommandStartedEvent[];
  let failed: CommandFailedEvent[];
  const dbName = uniqueDbName('fp');

  const configure = (mode: unknown, data: Document = {}) =>
    admin.db('admin').command({ configureFailPoint: 'failCommand', mode, data: { appName: APP, ...data } });
  const ping = () => client.db('admin').command({ ping: 1 });
  const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => e);

  beforeAll(async () => {
    admin = driverClient();
    await admin.connect();
  });

  beforeEach(async () => {
    client = driverClient({ appName: APP, monitorCommands: true });
    started = [];
    failed = [];
    client.on('commandStarted', (e) => started.push(e));
    client.on('commandFailed', (e) => failed.push(e));
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

  it('fails the named command the given number of times with errorCode', async () => {
    await configure({ times: 2 }, { failCommands: ['ping'], errorCode: 8 });
    for (let i = 0; i < 2; i++) {
      const error = await outcome(ping());
      expect(error).toBeInstanceOf(MongoServerError);
      expect(error).toMatchObject({ code: 8, codeName: 'UnknownError', errmsg: "Failing command via 'failCommand' failpoint" });
    }
    expect(await outcome(ping())).toBe('ok');
  });

  it('passes the first `skip` commands, then fails every one until turned off', async () => {
    await configure({ skip: 2 }, { failCommands: ['ping'], errorCode: 9 });
    expect([await outcome(ping()), await outcome(ping())]).toEqual(['ok', 'ok']);
    for (let i = 0; i < 3; i++) expect(await outcome(ping())).toMatchObject({ code: 9 });
    await configure('off');
    expect(await outcome(ping())).toBe('ok');
  });

  it('fails always with alwaysOn, and stops with off (the replies count activations)', async () => {
    const on = await configure('alwaysOn', { failCommands: ['ping'], errorCode: 2 });
    for (let i = 0; i < 3; i++) expect(await outcome(ping())).toMatchObject({ code: 2, codeName: 'BadValue' });
    const off = await configure('off');
    // `count` is how often the fail point fired in the server's life so far.
    expect(off.count - on.count).toBe(3);
    expect(await outcome(ping())).toBe('ok');
  });

  it('leaves commands not in failCommands and clients with another appName alone', async () => {
    await configure('alwaysOn', { failCommands: ['ping'], errorCode: 2 });
    expect(await outcome(client.db('admin').command({ buildInfo: 1 }))).toBe('ok');
    expect(await outcome(admin.db('admin').command({ ping: 1 }))).toBe('ok');
  });

  it('never fails configureFailPoint itself', async () => {
    await configure('alwaysOn', { failCommands: ['configureFailPoint', 'ping'], errorCode: 2 });
    const reconfigured = client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    expect(await outcome(reconfigured)).toBe('ok');
    expect(await outcome(ping())).toBe('ok');
  });

  it('sets exactly the errorLabels given', async () => {
    // 262 (ExceededTimeLimit) is not a state-change error, so the driver adds no label of its own.
    await configure({ times: 1 }, { failCommands: ['ping'], errorCode: 262, errorLabels: ['SomeLabel'] });
    const error = (await outcome(ping())) as MongoServerError;
    expect(error.code).toBe(262);
    expect(error.errorLabels).toEqual(['SomeLabel']);
  });

  it('closes the connection with closeConnection; the next command succeeds', async () => {
    await configure({ times: 1 }, { failCommands: ['ping'], closeConnection: true });
    expect(await outcome(ping())).toBeInstanceOf(MongoNetworkError);
    expect(await outcome(ping())).toBe('ok');
  });

  it('holds the reply for blockTimeMS with blockConnection', async () => {
    await configure({ times: 1 }, { failCommands: ['ping'], blockConnection: true, blockTimeMS: 400 });
    const before = Date.now();
    expect(await outcome(ping())).toBe('ok');
    expect(Date.now() - before).toBeGreaterThanOrEqual(350);
  });

  it('fails the command it fires on when blockConnection comes without blockTimeMS', async () => {
    await configure({ times: 1 }, { failCommands: ['ping'], blockConnection: true });
    expect(await outcome(ping())).toMatchObject({ code: 72, codeName: 'InvalidOptions' });
  });

  it.each([
    ['an unknown fail point', { configureFailPoint: 'noSuchFailPoint', mode: 'alwaysOn' }, 266],
    ['an unknown mode', { configureFailPoint: 'failCommand', mode: 'sometimes' }, 2],
    ['a negative times', { configureFailPoint: 'failCommand', mode: { times: -1 } }, 2],
    ['a mode of the wrong type', { configureFailPoint: 'failCommand', mode: 5 }, 14],
    ['no mode', { configureFailPoint: 'failCommand' }, 20],
    ['data that is not a document', { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: 3 }, 14],
  ])('rejects %s', async (_what, command, code) => {
    expect(await outcome(admin.db('admin').command(command))).toMatchObject({ code });
  });

  it('labels a retryable write RetryableWriteError by itself when errorLabels is absent, so the driver retries', async () => {
    await configure({ times: 1 }, { failCommands: ['insert'], errorCode: 91 });
    const collection = client.db(dbName).collection('retry');
    await collection.insertOne({ _id: 'once' } as Document);
    const inserts = started.filter((e) => e.commandName === 'insert');
    expect(inserts).toHaveLength(2);
    expect(inserts[1].command.txnNumber).toEqual(inserts[0].command.txnNumber);
    expect(failed[0].failure).toMatchObject({ code: 91 });
    expect((failed[0].failure as MongoServerError).hasErrorLabel('RetryableWriteError')).toBe(true);
    expect(await collection.countDocuments({ _id: 'once' } as Document)).toBe(1);
  });

  it('adds no RetryableWriteError label when errorLabels is given empty, so the driver does not retry', async () => {
    await configure({ times: 1 }, { failCommands: ['insert'], errorCode: 262, errorLabels: [] });
    const error = await outcome(client.db(dbName).collection('noretry').insertOne({ a: 1 }));
    expect(error).toMatchObject({ code: 262 });
    expect((error as MongoServerError).errorLabels ?? []).toEqual([]);
    expect(started.filter((e) => e.commandName === 'insert')).toHaveLength(1);
  });

  it('adds a writeConcernError to a command that otherwise succeeds', async () => {
    await configure({ times: 1 }, {
      failCommands: ['insert'],
      writeConcernError: { code: 100, codeName: 'UnsatisfiableWriteConcern', errmsg: 'Not enough data-bearing nodes' },
    });
    const collection = client.db(dbName).collection('wce');
    const error = await outcome(collection.insertOne({ _id: 'wce' } as Document));
    expect(error).toBeInstanceOf(MongoWriteConcernError);
    expect(error).toMatchObject({ code: 100 });
    // The write itself happened: only its write concern "failed".
    expect(await collection.countDocuments({ _id: 'wce' } as Document)).toBe(1);
  });

  it('retries a write whose writeConcernError is retryable, and writes once', async () => {
    await configure({ times: 1 }, {
      failCommands: ['insert'],
      writeConcernError: { code: 91, errmsg: 'Replication is being shut down' },
    });
    const collection = client.db(dbName).collection('wce-retry');
    await collection.insertOne({ _id: 'wce-retry' } as Document);
    expect(started.filter((e) => e.commandName === 'insert')).toHaveLength(2);
    expect(await collection.countDocuments()).toBe(1);
  });
});

describeWith(['failCommand'], 'failGetMoreAfterCursorCheckout', () => {
  const app = `getmore-fp-spec-${process.pid}`;
  let admin: MongoClient;
  let client: MongoClient;
  let aggregates: CommandStartedEvent[];
  const dbName = uniqueDbName('fpgm');

  const configure = (mode: unknown, data: Document = {}) =>
    admin.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode, data: { appName: app, ...data } });

  beforeAll(async () => {
    admin = driverClient();
    client = driverClient({ appName: app, monitorCommands: true });
    client.on('commandStarted', (e) => {
      if (e.commandName === 'aggregate') aggregates.push(e);
    });
    await Promise.all([admin.connect(), client.connect()]);
    await admin.db(dbName).collection('docs').insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i }) as Document));
  });

  beforeEach(() => {
    aggregates = [];
  });

  afterEach(async () => {
    await admin.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: 'off' });
  });

  afterAll(async () => {
    await admin.db(dbName).dropDatabase();
    await Promise.all([admin.close(), client.close()]);
  });

  /** A find cursor with its first batch read, so that the next read is a getMore. */
  async function openCursor(): Promise<Document> {
    const reply = await client.db(dbName).command({ find: 'docs', sort: { _id: 1 }, batchSize: 2 });
    return reply.cursor as Document;
  }
  const getMore = (cursor: Document) =>
    client.db(dbName).command({ getMore: cursor.id, collection: 'docs', batchSize: 2 });

  it('fails the next getMore with errorCode, and the cursor is gone after it', async () => {
    const cursor = await openCursor();
    await configure({ times: 1 }, { errorCode: 50 });
    expect(await getMore(cursor).catch((e: unknown) => e)).toMatchObject({ code: 50, codeName: 'MaxTimeMSExpired' });
    expect(await getMore(cursor).catch((e: unknown) => e)).toMatchObject({ code: 43, codeName: 'CursorNotFound' });
  });

  it('fails with InternalError when no errorCode is given', async () => {
    const cursor = await openCursor();
    await configure({ times: 1 });
    expect(await getMore(cursor).catch((e: unknown) => e)).toMatchObject({ code: 1, codeName: 'InternalError' });
  });

  it('honours skip, and fails no find or other command', async () => {
    const cursor = await openCursor();
    await configure({ skip: 1 }, { errorCode: 2 });
    expect((await getMore(cursor)).cursor.nextBatch).toEqual([{ _id: 2 }, { _id: 3 }]);
    expect(await getMore(cursor).catch((e: unknown) => e)).toMatchObject({ code: 2 });
    expect((await openCursor()).firstBatch).toHaveLength(2);
    await configure('off');
  });

  it("lets the driver's change stream resume after a resumable getMore error, losing and repeating nothing", async () => {
    const coll = client.db(dbName).collection('stream', { writeConcern: { w: 'majority' } });
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    try {
      expect(await stream.tryNext()).toBeNull();
      await coll.insertOne({ _id: 'a' } as Document);
      expect(((await stream.next()) as Document).documentKey).toEqual({ _id: 'a' });
      // HostUnreachable (6): mongod labels it ResumableChangeStreamError on a change-stream getMore.
      await configure({ times: 1 }, { errorCode: 6 });
      await coll.insertMany([{ _id: 'b' }, { _id: 'c' }] as Document[]);
      const keys = [((await stream.next()) as Document).documentKey, ((await stream.next()) as Document).documentKey];
      expect(keys).toEqual([{ _id: 'b' }, { _id: 'c' }]);
      expect(aggregates).toHaveLength(2);
      expect(aggregates[1].command.pipeline[0].$changeStream.resumeAfter).toBeDefined();
    } finally {
      await stream.close();
    }
  });

  it('ends the change stream with the error when the code is not resumable', async () => {
    const coll = client.db(dbName).collection('fatal', { writeConcern: { w: 'majority' } });
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    try {
      expect(await stream.tryNext()).toBeNull();
      await configure({ times: 1 }, { errorCode: 280 });
      await coll.insertOne({ _id: 'x' } as Document);
      const error = await stream.next().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 280 });
      expect((error as MongoServerError).hasErrorLabel('ResumableChangeStreamError')).toBe(false);
      expect(aggregates).toHaveLength(1);
    } finally {
      await stream.close();
    }
  });
});

describeWith(['failCommand'], 'failCommand inside a transaction', () => {
  const app = `txn-fp-spec-${process.pid}`;
  let admin: MongoClient;
  let client: MongoClient;
  const dbName = uniqueDbName('fptxn');

  beforeAll(async () => {
    admin = driverClient();
    client = driverClient({ appName: app });
    await Promise.all([admin.connect(), client.connect()]);
    await admin.db(dbName).createCollection('txn');
  });

  afterAll(async () => {
    await admin.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    await admin.db(dbName).dropDatabase();
    await Promise.all([admin.close(), client.close()]);
  });

  it('fails that command only: the transaction goes on and commits the other statements', async () => {
    const coll = client.db(dbName).collection('txn');
    const session = client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: 'before' } as Document, { session });
      await admin.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['insert'], errorCode: 2, appName: app },
      });
      const error = await coll.insertOne({ _id: 'failed' } as Document, { session }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 2 });
      await coll.insertOne({ _id: 'after' } as Document, { session });
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    const ids = (await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id);
    expect(ids).toEqual(['after', 'before']);
  });
});
