/**
 * Bad inputs, table-driven: each row gives its typed error — thrown at the
 * call for synchronous members and bad arguments that make an Observable
 * impossible, through the error channel for what the design routes there —
 * sends nothing, and leaves the client usable.
 */
import { MongoInvalidArgumentError, MongoParseError, MongoTransactionError } from 'mongodb';
import { firstValueFrom, isObservable, lastValueFrom, type Observable } from 'rxjs';
import { RxMongoClient } from '../../lib/client/client';
import { ClientClosedError, ConfigurationError, DocumentTooLargeError, InvalidNameError } from '../../lib/errors';
import { backend, uniqueDbName } from '../support/backend';
import { monitoredClient, withDatabasePath, type Monitored } from './client-monitor';

type ErrorClass = abstract new (...args: never[]) => Error;

interface Row {
  input: string;
  /** Returns an Observable for error-channel rows; throws for call-time rows. */
  run: (m: Monitored) => unknown;
  error: ErrorClass;
  channel: 'throws' | 'errors';
}

/** The backend URI with an extra query option. */
function withOption(option: string): string {
  const uri = backend().uri;
  return `${uri}${uri.includes('?') ? '&' : '?'}${option}`;
}

/** A URI naming no database, so `getDefaultDatabase()` has nothing to pick. */
function withoutDatabase(): string {
  return withDatabasePath(backend().uri, '');
}

const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024; // every server's maxBsonObjectSize

/**
 * `{ blob }` of `size` bytes as BSON once the driver adds `_id`: 4 (length)
 * + 1 (type) + 5 ("blob\0") + 4 (string length) + n + 1 (NUL) + 1 (end) + 17 (`_id`).
 */
function documentOf(size: number): { blob: string } {
  return { blob: 'x'.repeat(size - 33) };
}

/** Over the limit with or without an added `_id`. */
const oversized = () => documentOf(MAX_BSON_OBJECT_SIZE + 1024);

const db = (m: Monitored) => m.client.db('badinput');
const coll = (m: Monitored) => db(m).collection('c');

/** A client on the backend, already closed. */
async function closedClient(): Promise<RxMongoClient> {
  const closed = new RxMongoClient(backend().uri);
  await firstValueFrom(closed.close());
  return closed;
}

/** A collection whose client was closed after it was made. */
async function collectionOfClosedClient() {
  const closing = new RxMongoClient(backend().uri);
  const collection = closing.db('app').collection('c');
  await firstValueFrom(closing.close());
  return collection;
}

const ROWS: Row[] = [
  // database names
  { input: "db('')", run: (m) => m.client.db(''), error: InvalidNameError, channel: 'throws' },
  { input: "db('a.b')", run: (m) => m.client.db('a.b'), error: InvalidNameError, channel: 'throws' },
  { input: "db('a b')", run: (m) => m.client.db('a b'), error: InvalidNameError, channel: 'throws' },
  { input: "db('a$b')", run: (m) => m.client.db('a$b'), error: InvalidNameError, channel: 'throws' },
  { input: "db('a/b')", run: (m) => m.client.db('a/b'), error: InvalidNameError, channel: 'throws' },
  { input: "db('a\\0b')", run: (m) => m.client.db('a\0b'), error: InvalidNameError, channel: 'throws' },
  { input: 'db(64 bytes)', run: (m) => m.client.db('d'.repeat(64)), error: InvalidNameError, channel: 'throws' },
  { input: 'db(42)', run: (m) => m.client.db(42 as never), error: TypeError, channel: 'throws' },
  { input: 'db(null)', run: (m) => m.client.db(null as never), error: TypeError, channel: 'throws' },
  // collection names
  { input: "collection('')", run: (m) => db(m).collection(''), error: InvalidNameError, channel: 'throws' },
  { input: "collection('a$b')", run: (m) => db(m).collection('a$b'), error: InvalidNameError, channel: 'throws' },
  { input: "collection('a\\0b')", run: (m) => db(m).collection('a\0b'), error: InvalidNameError, channel: 'throws' },
  { input: "collection('.a')", run: (m) => db(m).collection('.a'), error: InvalidNameError, channel: 'throws' },
  { input: 'collection(7)', run: (m) => db(m).collection(7 as never), error: TypeError, channel: 'throws' },
  { input: "createCollection('')", run: (m) => db(m).createCollection(''), error: InvalidNameError, channel: 'throws' },
  { input: "rename('a$b')", run: (m) => coll(m).rename('a$b'), error: InvalidNameError, channel: 'throws' },
  { input: "dropCollection('a..b')", run: (m) => db(m).dropCollection('a..b'), error: InvalidNameError, channel: 'throws' },
  // dropDatabase routes everything through the error channel
  { input: 'dropDatabase(42)', run: (m) => m.client.dropDatabase(42 as never), error: TypeError, channel: 'errors' },
  { input: 'dropDatabase({})', run: (m) => m.client.dropDatabase({} as never), error: TypeError, channel: 'errors' },
  { input: "dropDatabase('a.b')", run: (m) => m.client.dropDatabase('a.b'), error: InvalidNameError, channel: 'errors' },
  // database options
  {
    input: 'getDatabase(unknown option)',
    run: (m) => m.client.getDatabase('app', { readPreferences: 'secondary' } as never),
    error: TypeError,
    channel: 'throws',
  },
  { input: "getDatabase('app', 'secondary')", run: (m) => m.client.getDatabase('app', 'secondary' as never), error: TypeError, channel: 'throws' },
  {
    input: "getDatabase(readPreference: 'bogus')",
    run: (m) => m.client.getDatabase('app', { readPreference: 'bogus' as never }),
    error: MongoInvalidArgumentError,
    channel: 'throws',
  },
  {
    input: 'getDefaultDatabase() without a URI database',
    run: () => {
      const unnamed = new RxMongoClient(withoutDatabase());
      try {
        return unnamed.getDefaultDatabase();
      } finally {
        unnamed.close().subscribe();
      }
    },
    error: ConfigurationError,
    channel: 'throws',
  },
  // URIs and client options
  { input: "new RxMongoClient('http://…')", run: () => new RxMongoClient('http://localhost'), error: ConfigurationError, channel: 'throws' },
  { input: "new RxMongoClient('mongodb://')", run: () => new RxMongoClient('mongodb://'), error: ConfigurationError, channel: 'throws' },
  { input: 'uri maxPoolSize=-1', run: () => new RxMongoClient(withOption('maxPoolSize=-1')), error: MongoParseError, channel: 'throws' },
  { input: 'uri unknown option', run: () => new RxMongoClient(withOption('noSuchOption=1')), error: MongoParseError, channel: 'throws' },
  {
    input: 'options unknown key',
    run: () => new RxMongoClient(backend().uri, { noSuchOption: 1 } as never),
    error: MongoParseError,
    channel: 'throws',
  },
  {
    input: 'options.scheduler not a scheduler',
    run: () => new RxMongoClient(backend().uri, { scheduler: { schedule: 1 } as never }),
    error: TypeError,
    channel: 'throws',
  },
  {
    input: 'options.onUnsubscribe unknown',
    run: () => new RxMongoClient(backend().uri, { onUnsubscribe: 'cancel' as never }),
    error: TypeError,
    channel: 'throws',
  },
  { input: 'new RxMongoClient(42)', run: () => new RxMongoClient(42 as never), error: TypeError, channel: 'throws' },
  // operation arguments the driver refuses before sending
  {
    input: 'updateOne without update operators',
    run: (m) => coll(m).updateOne({}, { plain: 1 } as never),
    error: MongoInvalidArgumentError,
    channel: 'errors',
  },
  {
    input: 'replaceOne with update operators',
    run: (m) => coll(m).replaceOne({}, { $set: { a: 1 } } as never),
    error: MongoInvalidArgumentError,
    channel: 'errors',
  },
  {
    input: 'commitTransaction without a transaction',
    run: (m) => m.client.withSession((s) => s.commitTransaction()),
    error: MongoTransactionError,
    channel: 'errors',
  },
  {
    input: 'withTransaction body not returning an Observable',
    run: (m) => m.client.withSession((s) => s.withTransaction(() => undefined as never)),
    error: TypeError,
    channel: 'errors',
  },
  // a missing write filter would mean "every document": refused, {} still means every document
  { input: 'deleteMany(undefined)', run: (m) => coll(m).deleteMany(undefined), error: TypeError, channel: 'throws' },
  { input: 'deleteMany(null)', run: (m) => coll(m).deleteMany(null as never), error: TypeError, channel: 'throws' },
  { input: 'deleteOne()', run: (m) => coll(m).deleteOne(), error: TypeError, channel: 'throws' },
  { input: 'updateMany(undefined, …)', run: (m) => coll(m).updateMany(undefined as never, { $set: { a: 1 } }), error: TypeError, channel: 'throws' },
  { input: 'updateOne(null, …)', run: (m) => coll(m).updateOne(null as never, { $set: { a: 1 } }), error: TypeError, channel: 'throws' },
  { input: 'replaceOne(undefined, …)', run: (m) => coll(m).replaceOne(undefined as never, { a: 1 }), error: TypeError, channel: 'throws' },
  { input: 'findOneAndDelete(undefined)', run: (m) => coll(m).findOneAndDelete(undefined as never), error: TypeError, channel: 'throws' },
  { input: 'findOneAndUpdate(null, …)', run: (m) => coll(m).findOneAndUpdate(null as never, { $set: { a: 1 } }), error: TypeError, channel: 'throws' },
  { input: 'findOneAndReplace(undefined, …)', run: (m) => coll(m).findOneAndReplace(undefined as never, { a: 1 }), error: TypeError, channel: 'throws' },
  {
    input: 'bulkWrite([{ deleteMany: {} }])',
    run: (m) => coll(m).bulkWrite([{ deleteMany: {} as never }]),
    error: TypeError,
    channel: 'throws',
  },
  {
    input: 'bulkWrite([{ updateMany: { update } }])',
    run: (m) => coll(m).bulkWrite([{ updateMany: { filter: undefined as never, update: { $set: { a: 1 } } } }]),
    error: TypeError,
    channel: 'throws',
  },
  {
    input: "client.bulkWrite([{ name: 'deleteMany' }])",
    run: (m) => m.client.bulkWrite([{ name: 'deleteMany', namespace: 'badinput.c' } as never]),
    error: TypeError,
    channel: 'throws',
  },
  // documents that are not documents
  { input: 'insertOne(null)', run: (m) => coll(m).insertOne(null as never), error: TypeError, channel: 'throws' },
  { input: 'insertOne(42)', run: (m) => coll(m).insertOne(42 as never), error: TypeError, channel: 'throws' },
  { input: 'insertMany([{…}, null])', run: (m) => coll(m).insertMany([{ a: 1 }, null as never]), error: TypeError, channel: 'throws' },
  { input: 'insertMany({…})', run: (m) => coll(m).insertMany({ a: 1 } as never), error: TypeError, channel: 'throws' },
  { input: 'replaceOne({}, null)', run: (m) => coll(m).replaceOne({}, null as never), error: TypeError, channel: 'throws' },
  { input: "aggregate('$match')", run: (m) => coll(m).aggregate('$match' as never), error: TypeError, channel: 'throws' },
  { input: 'command({})', run: (m) => db(m).command({}), error: TypeError, channel: 'throws' },
  { input: 'command(null)', run: (m) => db(m).command(null as never), error: TypeError, channel: 'throws' },
  { input: 'withSession(42)', run: (m) => m.client.withSession(42 as never), error: TypeError, channel: 'throws' },
  { input: 'withTransaction(42)', run: (m) => m.client.withSession((s) => s.withTransaction(42 as never)), error: TypeError, channel: 'errors' },
  // option typos and values the driver would misread
  { input: 'find({}, { lmit: 1 })', run: (m) => coll(m).find({}, { lmit: 1 } as never), error: TypeError, channel: 'throws' },
  { input: 'findOne({}, { projecton })', run: (m) => coll(m).findOne({}, { projecton: { a: 1 } } as never), error: TypeError, channel: 'throws' },
  { input: 'insertOne(…, { writeconcern })', run: (m) => coll(m).insertOne({ a: 1 }, { writeconcern: { w: 1 } } as never), error: TypeError, channel: 'throws' },
  { input: 'deleteMany({}, { colation })', run: (m) => coll(m).deleteMany({}, { colation: { locale: 'fr' } } as never), error: TypeError, channel: 'throws' },
  { input: 'command(…, { readPrefrence })', run: (m) => db(m).command({ ping: 1 }, { readPrefrence: 'primary' } as never), error: TypeError, channel: 'throws' },
  { input: "collection('c', { readConcernLevel })", run: (m) => db(m).collection('c', { readConcernLevel: 'majority' } as never), error: TypeError, channel: 'throws' },
  { input: 'withOptions({ w: 1 })', run: (m) => coll(m).withOptions({ w: 1 } as never), error: TypeError, channel: 'throws' },
  { input: 'listDatabases({ nameonly })', run: (m) => m.client.listDatabases({ nameonly: true } as never), error: TypeError, channel: 'throws' },
  { input: 'startSession({ causalConsistancy })', run: (m) => m.client.startSession({ causalConsistancy: true } as never), error: TypeError, channel: 'throws' },
  { input: "find({}, { batchSize: '10' })", run: (m) => coll(m).find({}, { batchSize: '10' as never }), error: TypeError, channel: 'throws' },
  { input: 'find({}, { limit: NaN })', run: (m) => coll(m).find({}, { limit: NaN }), error: RangeError, channel: 'throws' },
  { input: 'find({}, { skip: -1 })', run: (m) => coll(m).find({}, { skip: -1 }), error: RangeError, channel: 'throws' },
  { input: "findOne({}, { maxTimeMS: '5' })", run: (m) => coll(m).findOne({}, { maxTimeMS: '5' as never }), error: TypeError, channel: 'throws' },
  // over the server's document size limit: errors the Observable, nothing sent
  { input: 'insertOne(over 16 MiB)', run: (m) => coll(m).insertOne(oversized()), error: DocumentTooLargeError, channel: 'errors' },
  { input: 'insertMany([…, over 16 MiB])', run: (m) => coll(m).insertMany([{ a: 1 }, oversized()]), error: DocumentTooLargeError, channel: 'errors' },
  { input: 'replaceOne({}, over 16 MiB)', run: (m) => coll(m).replaceOne({}, oversized()), error: DocumentTooLargeError, channel: 'errors' },
  {
    input: 'bulkWrite([{ insertOne: over 16 MiB }])',
    run: (m) => coll(m).bulkWrite([{ insertOne: { document: oversized() } }]),
    error: DocumentTooLargeError,
    channel: 'errors',
  },
  // use after close, on another client
  {
    input: 'db() after close',
    run: async () => (await closedClient()).db('app'),
    error: ClientClosedError,
    channel: 'throws',
  },
  {
    input: 'find() after close',
    run: async () => (await collectionOfClosedClient()).find(),
    error: ClientClosedError,
    channel: 'errors',
  },
];

describe('bad inputs', () => {
  let m: Monitored;

  beforeAll(() => {
    m = monitoredClient();
  });

  afterAll(async () => {
    await lastValueFrom(m.client.close());
  });

  it('has at least 25 rows', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(25);
  });

  it.each(ROWS)('$input → $error.name ($channel)', async ({ run, error, channel }) => {
    m.reset();
    let outcome: unknown;
    let thrown: unknown;
    try {
      outcome = await run(m);
    } catch (err) {
      thrown = err;
    }
    if (channel === 'throws') {
      expect(thrown).toBeInstanceOf(error);
    } else {
      expect(thrown).toBeUndefined();
      expect(isObservable(outcome)).toBe(true);
      await expect(lastValueFrom(outcome as Observable<unknown>)).rejects.toBeInstanceOf(error);
    }
    expect(m.names()).toEqual([]);
    // the client is still usable
    await expect(firstValueFrom(m.client.db(uniqueDbName('usable')).command({ ping: 1 }))).resolves.toMatchObject({ ok: 1 });
  });

  it('names the argument and the value, and for an unknown option the known ones', () => {
    const message = (run: () => unknown): string => {
      try {
        run();
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('did not throw');
    };
    expect(message(() => coll(m).deleteMany(undefined))).toBe(
      'deleteMany(filter): a write needs a filter document ({} matches every document), got undefined',
    );
    expect(message(() => coll(m).insertMany([{ a: 1 }, null as never]))).toBe(
      'insertMany(documents): documents[1] must be a document (a plain object), got null',
    );
    expect(message(() => coll(m).insertOne(42 as never))).toBe('insertOne(document): the document must be a document (a plain object), got 42');
    expect(message(() => db(m).command({}))).toBe(
      'command(command): the command document is empty; its first key names the command, e.g. { ping: 1 }',
    );
    expect(message(() => m.client.withSession(42 as never))).toBe('withSession(fn): expected a function returning an Observable, got 42');
    expect(message(() => coll(m).find({}, { limit: NaN }))).toBe('find(options): options.limit must be an integer, got NaN');
    expect(message(() => coll(m).find({}, { batchSize: '10' as never }))).toBe(
      'find(options): options.batchSize must be a non-negative integer, got "10"',
    );
    const typo = message(() => coll(m).find({}, { lmit: 1 } as never));
    expect(typo).toMatch(/^find\(options\): unknown option 'lmit' \(did you mean 'limit'\?\); known options: allowDiskUse, /);
    for (const known of ['batchSize', 'projection', 'sort', 'session', 'signal', 'timeoutMS']) expect(typo).toContain(known);
  });

  it('an over-16 MiB document errors with its size and the server limit', async () => {
    const error = await lastValueFrom(coll(m).insertOne(documentOf(MAX_BSON_OBJECT_SIZE + 1))).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DocumentTooLargeError);
    expect(error).toMatchObject({ argument: 'insertOne(document): the document', size: 16 * 1024 * 1024 + 1, limit: 16 * 1024 * 1024 });
    expect((error as Error).message).toBe(
      "insertOne(document): the document is 16777217 bytes as BSON, over the server's limit of 16777216 bytes (maxBsonObjectSize)",
    );
  });

  it('a document exactly at the limit is sent', async () => {
    const name = uniqueDbName('badinput');
    const atLimit = documentOf(MAX_BSON_OBJECT_SIZE);
    const collection = m.client.db(name).collection('big');
    try {
      await expect(lastValueFrom(collection.insertOne(atLimit))).resolves.toMatchObject({ acknowledged: true });
    } finally {
      await lastValueFrom(m.client.dropDatabase(name));
    }
  });

  it('{} as a write filter still means every document', async () => {
    const name = uniqueDbName('badinput');
    const collection = m.client.db(name).collection('c');
    try {
      await lastValueFrom(collection.insertMany([{ a: 1 }, { a: 2 }]));
      await expect(lastValueFrom(collection.deleteMany({}))).resolves.toMatchObject({ deletedCount: 2 });
    } finally {
      await lastValueFrom(m.client.dropDatabase(name));
    }
  });

  it('closing twice completes without an error', async () => {
    const twice = new RxMongoClient(backend().uri);
    await expect(firstValueFrom(twice.close())).resolves.toBeUndefined();
    await expect(firstValueFrom(twice.close())).resolves.toBeUndefined();
  });
});
