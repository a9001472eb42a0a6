/**
 * RxMongoClient on the run's backend, one describe per row of DESIGN.md §1
 * (topology and watch rows have their own specs). Every Observable factory is
 * checked for: nothing sent before subscribe, a new run per subscribe, release
 * on unsubscribe, errors in the error channel.
 */
import { MongoServerError, type Document, type ObjectId } from 'mongodb';
import { firstValueFrom, lastValueFrom, NEVER, of, take, throwError, toArray, VirtualTimeScheduler } from 'rxjs';
import { RxMongoClient } from '../../lib/client/client';
import { RxDatabase } from '../../lib/client/database';
import { ClientClosedError, ConfigurationError, InvalidNameError } from '../../lib/errors';
import { RxClientSession } from '../../lib/client/session';
import { backend, describeWith, uniqueDbName } from '../support/backend';
import { eventually, failCommand, monitoredClient, settle, unsubscribeInFlight, withDatabasePath, type Monitored } from './client-monitor';

let m: Monitored;
let client: RxMongoClient;

beforeEach(() => {
  m = monitoredClient();
  client = m.client;
});

afterEach(async () => {
  await lastValueFrom(client.close());
});

/** Creates a database by writing one document into it. */
async function seedDatabase(name = uniqueDbName('client')): Promise<string> {
  await firstValueFrom(client.db(name).collection('seed').insertOne({ seeded: true }));
  return name;
}

describe('new RxMongoClient(uri?, options?)', () => {
  it('sends nothing and opens no topology until the first subscribe', async () => {
    let opened = 0;
    client.driver.on('topologyOpening', () => (opened += 1));
    const info$ = client.serverInfo();
    await settle();
    expect(opened).toBe(0);
    expect(m.started).toHaveLength(0);
    await firstValueFrom(info$);
    expect(opened).toBe(1);
    expect(m.names()).toEqual(['buildInfo']);
  });

  it('delivers emissions on the given scheduler', async () => {
    const scheduler = new VirtualTimeScheduler();
    const scheduled = monitoredClient({ scheduler });
    try {
      const seen: Document[] = [];
      scheduled.client.serverInfo().subscribe((info) => seen.push(info));
      await eventually(() => scheduled.succeeded.length === 1, 'buildInfo reply');
      await settle(10);
      expect(seen).toHaveLength(0);
      scheduler.flush();
      expect(seen).toHaveLength(1);

      const docs: unknown[] = [];
      const coll = scheduled.client.db(uniqueDbName('sched')).collection('c');
      const insert = coll.insertMany([{ i: 1 }, { i: 2 }]).subscribe();
      await eventually(() => scheduled.succeeded.some((e) => e.commandName === 'insert'), 'insert reply');
      scheduler.flush();
      insert.unsubscribe();
      coll.find().subscribe((doc) => docs.push(doc));
      await eventually(() => scheduled.succeeded.some((e) => e.commandName === 'find'), 'find reply');
      await settle(10);
      expect(docs).toHaveLength(0);
      scheduler.flush();
      expect(docs).toHaveLength(2);
    } finally {
      const close = lastValueFrom(scheduled.client.close());
      await eventually(() => scheduled.client.closed, 'closing');
      await settle(10);
      scheduler.flush();
      await close;
    }
  });
});

describe('db(name)', () => {
  it('returns an RxDatabase without sending anything', async () => {
    const db = client.db('app');
    expect(db).toBeInstanceOf(RxDatabase);
    expect(db.name).toBe('app');
    expect(db.client).toBe(client);
    expect(db.driver.databaseName).toBe('app');
    await settle();
    expect(m.started).toHaveLength(0);
  });

  it('throws InvalidNameError at the call for names MongoDB refuses', () => {
    for (const name of ['', 'a.b', 'a b', 'a$', 'x'.repeat(64)]) {
      expect(() => client.db(name)).toThrow(InvalidNameError);
    }
  });
});

describe('dropDatabase(nameOrDb, { session?, comment? })', () => {
  it('drops by name, sends nothing before subscribe and drops again on re-subscribe', async () => {
    const name = await seedDatabase();
    m.reset();
    const drop$ = client.dropDatabase(name, { comment: 'spec drop' });
    await settle();
    expect(m.commands('dropDatabase')).toHaveLength(0);
    await expect(firstValueFrom(drop$)).resolves.toBeUndefined();
    expect(await firstValueFrom(client.listDatabaseNames())).not.toContain(name);
    await firstValueFrom(drop$);
    const sent = m.commands('dropDatabase');
    expect(sent).toHaveLength(2);
    expect(sent[0].comment).toBe('spec drop');
  });

  it("sends the client's write concern, and no driver-only option", async () => {
    const majority = monitoredClient({ w: 'majority' });
    try {
      await firstValueFrom(majority.client.dropDatabase(uniqueDbName('wc')));
      const [sent] = majority.commands('dropDatabase');
      expect(sent.writeConcern).toMatchObject({ w: 'majority' });
      expect(sent.signal).toBeUndefined();
    } finally {
      await lastValueFrom(majority.client.close());
    }
  });

  it('drops an RxDatabase', async () => {
    const name = await seedDatabase();
    await firstValueFrom(client.dropDatabase(client.db(name)));
    expect(await firstValueFrom(client.listDatabaseNames())).not.toContain(name);
  });

  it('errors with TypeError through the error channel for anything else, sending nothing', async () => {
    m.reset();
    const drop$ = client.dropDatabase({ name: 'x' } as unknown as string);
    await expect(firstValueFrom(drop$)).rejects.toBeInstanceOf(TypeError);
    expect(m.commands('dropDatabase')).toHaveLength(0);
  });

  it('runs in a session', async () => {
    const name = await seedDatabase();
    await lastValueFrom(client.withSession((session) => client.dropDatabase(name, { session })));
    expect(m.commands('dropDatabase')[0].lsid).toBeDefined();
  });
});

describe('getDatabase(name?, options?)', () => {
  it('applies the given write concern and inherits the rest', async () => {
    const db = client.getDatabase(uniqueDbName('getdb'), { writeConcern: { w: 'majority', wtimeoutMS: 5000 } });
    expect(db.readPreference.mode).toBe(client.readPreference.mode);
    await firstValueFrom(db.collection('c').insertOne({ a: 1 }));
    expect(m.commands('insert')[0].writeConcern).toMatchObject({ w: 'majority' });
  });

  it('applies bsonOptions to what is read', async () => {
    const name = uniqueDbName('bson');
    await firstValueFrom(client.db(name).collection('c').insertOne({ _id: 1, big: 2n ** 40n } as Document));
    const db = client.getDatabase(name, { bsonOptions: { useBigInt64: true } });
    const doc = await firstValueFrom(db.collection('c').findOne({ _id: 1 } as Document));
    expect(typeof doc?.big).toBe('bigint');
  });
});

describe('getDefaultDatabase(default?, options?)', () => {
  it('prefers the database named in the URI', async () => {
    const named = new RxMongoClient(withDatabasePath(backend().uri, 'fromUri'));
    try {
      expect(named.getDefaultDatabase('fallback').name).toBe('fromUri');
      expect(named.getDatabase().name).toBe('fromUri');
    } finally {
      await lastValueFrom(named.close());
    }
  });

  it('falls back to the default, else ConfigurationError', () => {
    const uri = backend().uri;
    if (/mongodb(\+srv)?:\/\/[^/]+\/[^?]/.test(uri)) return; // a MONGODB_URI that names a database has no fallback case
    expect(client.getDefaultDatabase('fallback').name).toBe('fallback');
    expect(() => client.getDefaultDatabase()).toThrow(ConfigurationError);
  });
});

describe('listDatabaseNames({ session?, comment? })', () => {
  it('emits all names as one array, once per subscribe', async () => {
    const name = await seedDatabase();
    m.reset();
    const names$ = client.listDatabaseNames({ comment: 'names' });
    await settle();
    expect(m.commands('listDatabases')).toHaveLength(0);
    const values = await lastValueFrom(names$.pipe(toArray()));
    expect(values).toHaveLength(1);
    expect(values[0]).toContain(name);
    await firstValueFrom(names$);
    const sent = m.commands('listDatabases');
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({ nameOnly: true, comment: 'names' });
    expect(sent[0].signal).toBeUndefined();
  });
});

describe('listDatabases({ session?, comment?, filter?, nameOnly?, authorizedDatabases? })', () => {
  it('emits one DatabaseInfo per database', async () => {
    const a = await seedDatabase();
    const b = await seedDatabase();
    const infos = await lastValueFrom(client.listDatabases({ filter: { name: { $in: [a, b] } } }).pipe(toArray()));
    expect(infos.map((info) => info.name).sort()).toEqual([a, b].sort());
    expect(m.commands('listDatabases').at(-1)?.filter).toEqual({ name: { $in: [a, b] } });
  });

  it('stops emitting on unsubscribe', async () => {
    await seedDatabase();
    await seedDatabase();
    const infos = await lastValueFrom(client.listDatabases().pipe(take(1), toArray()));
    expect(infos).toHaveLength(1);
  });
});

describe('serverInfo({ session? })', () => {
  it('emits the buildInfo reply once per subscribe', async () => {
    const info$ = client.serverInfo();
    const info = await firstValueFrom(info$);
    expect(typeof info.version).toBe('string');
    await firstValueFrom(info$);
    expect(m.commands('buildInfo')).toHaveLength(2);
  });
});

describe('startSession(options?) and withSession(fn)', () => {
  it('startSession emits a session without sending anything; operations carry its lsid', async () => {
    const session$ = client.startSession({ causalConsistency: true });
    const session = await firstValueFrom(session$);
    expect(session).toBeInstanceOf(RxClientSession);
    expect(m.started).toHaveLength(0);
    const other = await firstValueFrom(session$);
    expect(other).not.toBe(session);
    const coll = client.db(uniqueDbName('session')).collection('c');
    await firstValueFrom(coll.insertOne({ a: 1 }, { session }));
    expect(m.commands('insert')[0].lsid.id.toString('hex')).toBe(session.id?.id.toString('hex'));
    await firstValueFrom(session.endSession());
    await firstValueFrom(other.endSession());
    expect(session.hasEnded).toBe(true);
  });

  it('withSession ends the session on complete', async () => {
    let seen: RxClientSession | undefined;
    const result = await lastValueFrom(
      client.withSession((session) => {
        seen = session;
        return client.db(uniqueDbName('ws')).collection('c').insertOne({ a: 1 }, { session });
      }),
    );
    expect(result.acknowledged).toBe(true);
    expect(seen?.hasEnded).toBe(true);
  });

  it('withSession ends the session on error, passing the error through', async () => {
    let seen: RxClientSession | undefined;
    const boom = new Error('body failed');
    await expect(
      lastValueFrom(
        client.withSession((session) => {
          seen = session;
          return throwError(() => boom);
        }),
      ),
    ).rejects.toBe(boom);
    expect(seen?.hasEnded).toBe(true);
  });

  it('withSession ends the session on unsubscribe, and starts a new one per subscribe', async () => {
    const sessions: RxClientSession[] = [];
    const with$ = client.withSession((session) => {
      sessions.push(session);
      return NEVER;
    });
    expect(sessions).toHaveLength(0);
    with$.subscribe().unsubscribe();
    with$.subscribe().unsubscribe();
    expect(sessions).toHaveLength(2);
    expect(sessions.every((s) => s.hasEnded)).toBe(true);
  });

  it('withSession ends the session when fn throws', async () => {
    let seen: RxClientSession | undefined;
    await expect(
      lastValueFrom(
        client.withSession((session) => {
          seen = session;
          throw new TypeError('fn threw');
        }),
      ),
    ).rejects.toBeInstanceOf(TypeError);
    expect(seen?.hasEnded).toBe(true);
  });
});

describe('bulkWrite(models, options?)', () => {
  it('writes across namespaces in one bulkWrite command, once per subscribe', async () => {
    const name = uniqueDbName('bulk');
    const bulk$ = client.bulkWrite<Record<string, { _id: number; x?: number }>>([
      { name: 'insertOne', namespace: `${name}.a`, document: { _id: 1 } },
      { name: 'insertOne', namespace: `${name}.b`, document: { _id: 2 } },
      { name: 'updateOne', namespace: `${name}.a`, filter: { _id: 1 }, update: { $set: { x: 1 } } },
    ]);
    await settle();
    expect(m.commands('bulkWrite')).toHaveLength(0);
    const result = await firstValueFrom(bulk$);
    expect(result.insertedCount).toBe(2);
    expect(result.modifiedCount).toBe(1);
    expect(m.commands('bulkWrite')).toHaveLength(1);
    expect(await firstValueFrom(client.db(name).collection('b').findOne({ _id: 2 } as Document))).toEqual({ _id: 2 });
    await expect(firstValueFrom(bulk$)).rejects.toBeInstanceOf(Error); // duplicate _id the second time
    expect(m.commands('bulkWrite')).toHaveLength(2);
  });
});

describe('HOST and PORT', () => {
  it('are the static defaults', () => {
    expect(RxMongoClient.HOST).toBe('localhost');
    expect(RxMongoClient.PORT).toBe(27017);
  });
});

describe('close()', () => {
  it('acts at the call, then makes every operation error with ClientClosedError; closing twice is fine', async () => {
    const coll = client.db(uniqueDbName('close')).collection('c');
    await firstValueFrom(coll.insertOne({ a: 1 }));
    const before$ = coll.find();
    const closing = client.close();
    expect(client.closed).toBe(true);
    await expect(closing).resolves.toBeUndefined();
    await expect(firstValueFrom(before$)).rejects.toBeInstanceOf(ClientClosedError);
    await expect(firstValueFrom(coll.insertOne({ a: 2 }))).rejects.toBeInstanceOf(ClientClosedError);
    await expect(firstValueFrom(client.serverInfo())).rejects.toBeInstanceOf(ClientClosedError);
    await expect(firstValueFrom(client.withSession(() => of(1)))).rejects.toBeInstanceOf(ClientClosedError);
    expect(() => client.db('x')).toThrow(ClientClosedError);
    expect(() => coll.database.collection('d')).toThrow(ClientClosedError);
    await expect(firstValueFrom(client.close())).resolves.toBeUndefined();
  });

  it('await client.close() closes the driver client (its server sessions ended), nothing subscribed', async () => {
    await firstValueFrom(client.db(uniqueDbName('close')).collection('c').insertOne({ a: 1 }));
    await client.close();
    expect(m.commands('endSessions')).toHaveLength(1);
  });

  it('ends the server sessions it used (endSessions), once however often it is observed', async () => {
    await firstValueFrom(client.db(uniqueDbName('close')).collection('c').insertOne({ a: 1 }));
    const closing = client.close();
    await Promise.all([firstValueFrom(closing), lastValueFrom(closing), closing]);
    expect(m.commands('endSessions')).toHaveLength(1);
  });

  it('runs the teardown registered by other modules, once', async () => {
    let ran = 0;
    client.context.onClose(() => {
      ran += 1;
    });
    await Promise.all([firstValueFrom(client.close()), firstValueFrom(client.close())]);
    expect(ran).toBe(1);
  });
});

describe('connect()', () => {
  it('connects at the call and resolves with the client', async () => {
    let opened = 0;
    client.driver.on('topologyOpening', () => (opened += 1));
    const connecting = client.connect();
    expect(opened).toBe(1);
    await expect(connecting).resolves.toBe(client);
    await expect(firstValueFrom(connecting)).resolves.toBe(client);
    await expect(firstValueFrom(client.serverInfo())).resolves.toMatchObject({ ok: 1 });
    expect(opened).toBe(1);
  });
});

describe('cold Observables', () => {
  it('run again on every subscribe: a second subscribe to one insertOne(doc) inserts again (E11000, the driver set doc._id)', async () => {
    const coll = client.db(uniqueDbName('cold')).collection<{ a: number }>('c');
    const doc: { _id?: ObjectId; a: number } = { a: 1 };
    const insert$ = coll.insertOne(doc);
    expect(doc._id).toBeUndefined();
    const first = await firstValueFrom(insert$);
    expect(doc._id).toEqual(first.insertedId);
    const again = await firstValueFrom(insert$).catch((err: unknown) => err);
    expect(again).toBeInstanceOf(MongoServerError);
    expect((again as MongoServerError).code).toBe(11000);
    expect(m.commands('insert')).toHaveLength(2);
  });
});

describe('bsonOptions, readPreference, readConcern, writeConcern, options', () => {
  it('mirror the driver client and are read-only', () => {
    const configured = monitoredClient({ readPreference: 'secondaryPreferred', w: 'majority', readConcernLevel: 'majority' });
    try {
      expect(configured.client.readPreference.mode).toBe('secondaryPreferred');
      expect(configured.client.writeConcern?.w).toBe('majority');
      expect(configured.client.readConcern?.level).toBe('majority');
      expect(configured.client.bsonOptions).toEqual(configured.client.driver.bsonOptions);
      expect(configured.client.options.appName).toBe(configured.appName);
      for (const key of ['bsonOptions', 'readPreference', 'readConcern', 'writeConcern', 'options'] as const) {
        expect(() => {
          (configured.client as unknown as Record<string, unknown>)[key] = null;
        }).toThrow(TypeError);
      }
    } finally {
      void lastValueFrom(configured.client.close());
    }
  });
});

describeWith(['failCommand'], 'client operations on a failing server', () => {
  it.each([
    ['listDatabaseNames', 'listDatabases', () => client.listDatabaseNames()],
    ['listDatabases', 'listDatabases', () => client.listDatabases()],
    ['serverInfo', 'buildInfo', () => client.serverInfo()],
    ['dropDatabase', 'dropDatabase', () => client.dropDatabase(uniqueDbName('fail'))],
  ] as const)('%s passes the server error through unchanged', async (_name, command, make) => {
    await failCommand(m, { failCommands: [command], errorCode: 2, errorLabels: ['SpecLabel'] });
    const error = await firstValueFrom(make() as ReturnType<typeof client.serverInfo>).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(2);
    expect((error as MongoServerError).hasErrorLabel('SpecLabel')).toBe(true);
  });

  it('serverInfo aborts the request on unsubscribe while it is in flight', async () => {
    const delivered = await unsubscribeInFlight(m, 'buildInfo', client.serverInfo());
    await eventually(() => m.failed.some((e) => e.commandName === 'buildInfo'), 'buildInfo aborted');
    expect(m.succeeded.filter((e) => e.commandName === 'buildInfo')).toHaveLength(0);
    expect(delivered()).toBe(0);
  });
});
