import { inspect } from 'node:util';
import { MongoParseError, MongoServerSelectionError, ReadPreference } from 'mongodb';
import { firstValueFrom, lastValueFrom, map, queueScheduler } from 'rxjs';
import { RxMongoClient, uriDatabaseName } from '../../../lib/client/client';
import { RxDatabase } from '../../../lib/client/database';
import { ClientClosedError, ConfigurationError, InvalidNameError } from '../../../lib/errors';

/** Nothing listens here: an operation that reached the network would fail with a server-selection error instead. */
const NOWHERE = 'mongodb://127.0.0.1:9/app?serverSelectionTimeoutMS=200&connectTimeoutMS=200';

describe('RxMongoClient (no server)', () => {
  const clients: RxMongoClient[] = [];
  const make = (...args: ConstructorParameters<typeof RxMongoClient>) => {
    const client = new RxMongoClient(...args);
    clients.push(client);
    return client;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => lastValueFrom(c.close(), { defaultValue: undefined })));
  });

  it('defaults to localhost:27017, the static HOST and PORT', () => {
    expect(RxMongoClient.HOST).toBe('localhost');
    expect(RxMongoClient.PORT).toBe(27017);
    expect(make().options.hosts.map(String)).toEqual(['localhost:27017']);
  });

  it('exposes the driver options read-only', () => {
    const client = make('mongodb://h1:1/?readPreference=secondary&w=majority&readConcernLevel=local');
    expect(client.readPreference.mode).toBe('secondary');
    expect(client.writeConcern?.w).toBe('majority');
    expect(client.readConcern?.level).toBe('local');
    expect(client.bsonOptions).toBe(client.driver.bsonOptions);
    expect(client.options).toBe(client.driver.options);
    expect(() => {
      (client as { readPreference: unknown }).readPreference = ReadPreference.nearest;
    }).toThrow(TypeError);
  });

  it('refuses a non-string uri, non-object options and a non-scheduler with TypeError', () => {
    expect(() => new RxMongoClient(42 as unknown as string)).toThrow(TypeError);
    expect(() => new RxMongoClient(NOWHERE, null as never)).toThrow(TypeError);
    expect(() => new RxMongoClient(NOWHERE, { scheduler: {} as never })).toThrow(TypeError);
  });

  it('refuses a malformed uri: driver MongoParseError for bad options, ConfigurationError for a bad scheme', () => {
    expect(() => new RxMongoClient('mongodb://localhost/?maxPoolSize=-1')).toThrow(MongoParseError);
    expect(() => new RxMongoClient('http://localhost')).toThrow(ConfigurationError);
    expect(() => new RxMongoClient('mongodb://')).toThrow(ConfigurationError);
  });

  it('refuses an onUnsubscribe other than abort or ignore, naming the option and the value', () => {
    expect(() => new RxMongoClient(NOWHERE, { onUnsubscribe: 'cancel' as never })).toThrow(
      new TypeError('options.onUnsubscribe must be \'abort\' or \'ignore\', got "cancel"'),
    );
    expect(() => make(NOWHERE, { onUnsubscribe: 'ignore' })).not.toThrow();
    expect(make(NOWHERE, { onUnsubscribe: 'ignore' }).driver.options).not.toHaveProperty('onUnsubscribe');
  });

  it('accepts a scheduler without handing it to the driver', () => {
    expect(() => make(NOWHERE, { scheduler: queueScheduler })).not.toThrow();
  });

  it('db() validates the name at the call', () => {
    const client = make(NOWHERE);
    expect(client.db('app')).toBeInstanceOf(RxDatabase);
    expect(client.db('app').name).toBe('app');
    expect(() => client.db('a.b')).toThrow(InvalidNameError);
    expect(() => client.db('')).toThrow(InvalidNameError);
    expect(() => client.db(3 as unknown as string)).toThrow(TypeError);
  });

  it('getDatabase applies its options and inherits the rest from the client', () => {
    const client = make('mongodb://h1:1/?w=majority');
    const db = client.getDatabase('app', { readPreference: 'secondaryPreferred', bsonOptions: { promoteLongs: false } });
    expect(db.readPreference.mode).toBe('secondaryPreferred');
    expect(db.bsonOptions.promoteLongs).toBe(false);
    expect(db.writeConcern?.w).toBe('majority');
  });

  it('getDatabase refuses unknown options with a TypeError naming the key and the known ones', () => {
    const client = make(NOWHERE);
    expect(() => client.getDatabase('app', { readPreferences: 'secondary' } as never)).toThrow(
      new TypeError(
        "getDatabase(options): unknown option 'readPreferences' (did you mean 'readPreference'?); known options: bsonOptions, readConcern, readPreference, writeConcern",
      ),
    );
  });

  it('getDefaultDatabase prefers the URI database, then the default, then fails', () => {
    expect(make('mongodb://h1:1/fromUri').getDefaultDatabase('fallback').name).toBe('fromUri');
    expect(make('mongodb://h1:1/').getDefaultDatabase('fallback').name).toBe('fallback');
    expect(() => make('mongodb://h1:1').getDefaultDatabase()).toThrow(ConfigurationError);
    expect(make('mongodb://h1:1/fromUri').getDatabase().name).toBe('fromUri');
    expect(() => make('mongodb://h1:1').getDatabase()).toThrow(ConfigurationError);
  });

  it('dropDatabase errors with TypeError through the error channel for a non-name, sending nothing', async () => {
    const client = make(NOWHERE);
    const drop$ = client.dropDatabase(42 as unknown as string);
    await expect(firstValueFrom(drop$)).rejects.toBeInstanceOf(TypeError);
    await expect(firstValueFrom(client.dropDatabase('a b'))).rejects.toBeInstanceOf(InvalidNameError);
  });

  it('after close: sync calls throw and Observables error with ClientClosedError; closing again is fine', async () => {
    const client = make(NOWHERE);
    const db = client.db('app');
    const early$ = db.collection('c').findOne();
    await expect(firstValueFrom(client.close())).resolves.toBeUndefined();
    expect(client.closed).toBe(true);
    expect(() => client.db('app')).toThrow(ClientClosedError);
    expect(() => db.collection('c')).toThrow(ClientClosedError);
    await expect(firstValueFrom(early$)).rejects.toBeInstanceOf(ClientClosedError);
    await expect(firstValueFrom(client.listDatabaseNames())).rejects.toBeInstanceOf(ClientClosedError);
    await expect(firstValueFrom(client.startSession())).rejects.toBeInstanceOf(ClientClosedError);
    await expect(firstValueFrom(client.close())).resolves.toBeUndefined();
  });

  it('close() closes at the call, once, whether awaited, subscribed twice or ignored', async () => {
    const client = make(NOWHERE);
    let teardowns = 0;
    client.context.onClose(() => {
      teardowns += 1;
    });
    const closing = client.close();
    expect(client.closed).toBe(true);
    await expect(closing).resolves.toBeUndefined();
    await expect(firstValueFrom(closing)).resolves.toBeUndefined();
    await expect(lastValueFrom(closing.pipe(map(() => 'closed')))).resolves.toBe('closed');
    expect(teardowns).toBe(1);
  });

  it('connect() acts at the call: rejects with the driver error when no server answers, and after close with ClientClosedError', async () => {
    const client = make(NOWHERE);
    const connecting = client.connect();
    await expect(connecting).rejects.toBeInstanceOf(MongoServerSelectionError);
    // One outcome for every observer: subscribing does not connect again.
    await expect(firstValueFrom(connecting)).rejects.toBeInstanceOf(MongoServerSelectionError);
    await client.close();
    await expect(client.connect()).rejects.toBeInstanceOf(ClientClosedError);
  });

  it('an unobserved failing connect() is not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      make(NOWHERE).connect();
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });
});

describe('RxMongoClient secrets', () => {
  const URI = 'mongodb://alice:s3cr3t-pw@127.0.0.1:9/app?authSource=admin&serverSelectionTimeoutMS=200';
  let client: RxMongoClient;
  beforeEach(() => {
    client = new RxMongoClient(URI);
  });
  afterEach(async () => {
    await client.close();
  });

  it('keeps no field holding the connection string', () => {
    for (const value of Object.values(client)) {
      expect(typeof value === 'string' && value.includes('s3cr3t-pw')).toBe(false);
    }
    expect(Object.keys(client)).not.toContain('uri');
  });

  it('shows a redacted connection string in util.inspect and JSON.stringify, at any depth', () => {
    for (const shown of [inspect(client), inspect(client, { depth: 10, showHidden: true }), inspect({ nested: [client] }, { depth: 10 })]) {
      expect(shown).not.toContain('s3cr3t-pw');
      expect(shown).toContain('mongodb://alice:****@127.0.0.1:9/app');
    }
    expect(JSON.parse(JSON.stringify(client))).toEqual({
      uri: 'mongodb://alice:****@127.0.0.1:9/app?authSource=admin&serverSelectionTimeoutMS=200',
      closed: false,
    });
  });

  it('keeps the password out of what its databases, collections and sessions show', async () => {
    const db = client.db('app');
    const collection = db.collection('users');
    const session = await firstValueFrom(client.startSession());
    for (const value of [db, collection, session]) {
      expect(inspect(value, { depth: 10 })).not.toContain('s3cr3t-pw');
      expect(JSON.stringify(value)).not.toContain('s3cr3t-pw');
    }
    expect(inspect(collection)).toBe("RxCollection { namespace: 'app.users' }");
    expect(JSON.stringify(db)).toBe('{"name":"app"}');
    await firstValueFrom(session.endSession());
  });

  it('still finds the database named in the connection string', () => {
    expect(client.getDefaultDatabase().name).toBe('app');
  });

  it('keeps the password out of its own error messages', async () => {
    const error = await client
      .connect()
      .then(() => undefined, (err: unknown) => err);
    expect(inspect(error)).not.toContain('s3cr3t-pw');
    expect(() => new RxMongoClient('mongodb://alice:s3cr3t-pw@')).toThrow(ConfigurationError);
    try {
      new RxMongoClient('mongodb://alice:s3cr3t-pw@');
    } catch (err) {
      expect(inspect(err)).not.toContain('s3cr3t-pw');
    }
  });
});

describe('uriDatabaseName', () => {
  it.each([
    ['mongodb://localhost', undefined],
    ['mongodb://localhost/', undefined],
    ['mongodb://localhost/app', 'app'],
    ['mongodb://localhost:27017/app?replicaSet=rs0', 'app'],
    ['mongodb://h1:1,h2:2/app', 'app'],
    ['mongodb://user:p%40ss@h1/app', 'app'],
    ['mongodb://user:p%2Fss@h1', undefined],
    ['mongodb+srv://cluster.example.net/my%20db?retryWrites=true', 'my db'],
    ['mongodb://localhost/?authSource=admin', undefined],
  ])('%s → %p', (uri, expected) => {
    expect(uriDatabaseName(uri)).toBe(expected);
  });
});
