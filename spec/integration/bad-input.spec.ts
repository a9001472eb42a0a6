/**
 * Bad inputs, table-driven: each row gives its typed error — thrown at the
 * call for synchronous members and bad arguments that make an Observable
 * impossible, through the error channel for what the design routes there —
 * sends nothing, and leaves the client usable.
 */
import { MongoInvalidArgumentError, MongoParseError, MongoTransactionError } from 'mongodb';
import { firstValueFrom, isObservable, lastValueFrom, type Observable } from 'rxjs';
import { RxMongoClient } from '../../lib/client/client';
import { ClientClosedError, ConfigurationError, InvalidNameError } from '../../lib/errors';
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
    error: ConfigurationError,
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

  it('closing twice completes without an error', async () => {
    const twice = new RxMongoClient(backend().uri);
    await expect(firstValueFrom(twice.close())).resolves.toBeUndefined();
    await expect(firstValueFrom(twice.close())).resolves.toBeUndefined();
  });
});
