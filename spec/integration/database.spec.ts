/**
 * RxDatabase on the run's backend: the driver's Db surface through the typed
 * mapping.
 */
import { MongoServerError } from 'mongodb';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import type { RxMongoClient } from '../../lib/client/client';
import { RxCollection } from '../../lib/client/collection';
import type { RxDatabase } from '../../lib/client/database';
import { InvalidNameError } from '../../lib/errors';
import { describeWith, uniqueDbName } from '../support/backend';
import { eventually, failCommand, monitoredClient, settle, unsubscribeInFlight, type Monitored } from './client-monitor';

let m: Monitored;
let client: RxMongoClient;
let db: RxDatabase;

beforeEach(() => {
  m = monitoredClient();
  client = m.client;
  db = client.db(uniqueDbName('db'));
});

afterEach(async () => {
  await lastValueFrom(client.close());
});

/** Creates `count` collections named c0, c1, …, one document each. */
async function seedCollections(count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await firstValueFrom(db.collection(`c${i}`).insertOne({ i }));
  }
  m.reset();
}

describe('read-only properties', () => {
  it('mirror the driver Db', () => {
    expect(db.databaseName).toBe(db.name);
    expect(db.namespace).toBe(db.name);
    expect(db.readPreference).toBe(db.driver.readPreference);
    expect(db.bsonOptions).toEqual(db.driver.bsonOptions);
    expect(() => {
      (db as unknown as { databaseName: string }).databaseName = 'x';
    }).toThrow(TypeError);
  });
});

describe('command', () => {
  it('sends nothing before subscribe and runs again on each subscribe', async () => {
    const ping$ = db.command({ ping: 1 });
    await settle();
    expect(m.commands('ping')).toHaveLength(0);
    expect((await firstValueFrom(ping$)).ok).toBe(1);
    await firstValueFrom(ping$);
    expect(m.commands('ping')).toHaveLength(2);
  });

  it('passes server errors through unchanged', async () => {
    const error = await firstValueFrom(db.command({ noSuchCommandForRxmongo: 1 })).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(59);
  });
});

describe('createCollection / listCollections / collections / renameCollection / dropCollection', () => {
  it('createCollection emits an RxCollection of this database', async () => {
    const create$ = db.createCollection<{ a: number }>('made');
    await settle();
    expect(m.commands('create')).toHaveLength(0);
    const made = await firstValueFrom(create$);
    expect(made).toBeInstanceOf(RxCollection);
    expect(made.database).toBe(db);
    expect(made.name).toBe('made');
    expect(() => db.createCollection('')).toThrow(InvalidNameError);
  });

  it('listCollections emits one description per collection, and kills its cursor on unsubscribe', async () => {
    await seedCollections(5);
    const infos = await lastValueFrom(db.listCollections().pipe(toArray()));
    expect(infos.map((info) => info.name).sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    const names = await lastValueFrom(db.listCollections({}, { nameOnly: true }).pipe(toArray()));
    expect(names).toHaveLength(5);
    m.reset();
    await lastValueFrom(db.listCollections({}, { batchSize: 2 }).pipe(take(1), toArray()));
    await eventually(() => m.commands('killCursors').length === 1, 'killCursors');
    expect(m.commands('getMore')).toHaveLength(0);
  });

  it('collections emits RxCollections', async () => {
    await seedCollections(2);
    const all = await firstValueFrom(db.collections());
    expect(all.every((c) => c instanceof RxCollection && c.database === db)).toBe(true);
    expect(all.map((c) => c.name).sort()).toEqual(['c0', 'c1']);
  });

  it('renameCollection emits the renamed RxCollection; dropCollection drops', async () => {
    await seedCollections(1);
    const renamed = await firstValueFrom(db.renameCollection('c0', 'renamed'));
    expect(renamed.name).toBe('renamed');
    expect(await firstValueFrom(renamed.countDocuments())).toBe(1);
    expect(() => db.renameCollection('renamed', 'a$b')).toThrow(InvalidNameError);
    expect(await firstValueFrom(db.dropCollection('renamed'))).toBe(true);
    expect(await lastValueFrom(db.listCollections().pipe(toArray()))).toEqual([]);
  });
});

describe('aggregate / runCursorCommand (cursors)', () => {
  it('runCursorCommand emits the documents of a cursor-returning command', async () => {
    await firstValueFrom(db.collection('docs').insertMany([{ i: 1 }, { i: 2 }, { i: 3 }]));
    const docs = await lastValueFrom(db.runCursorCommand({ find: 'docs', filter: {}, sort: { i: 1 }, batchSize: 2 }).pipe(toArray()));
    expect(docs.map((d) => d.i)).toEqual([1, 2, 3]);
  });

  it('aggregate runs a database-level pipeline', async () => {
    const docs = await lastValueFrom(db.aggregate<{ x: number }>([{ $documents: [{ x: 1 }, { x: 2 }] }]).pipe(toArray()));
    expect(docs).toEqual([{ x: 1 }, { x: 2 }]);
  });
});

describe('stats / createIndex / indexInformation / dropDatabase', () => {
  it('stats emits dbStats', async () => {
    await seedCollections(1);
    expect((await firstValueFrom(db.stats())).db).toBe(db.name);
  });

  it('createIndex, indexInformation and dropDatabase work through the mapping', async () => {
    await seedCollections(1);
    expect(await firstValueFrom(db.createIndex('c0', { i: 1 }))).toBe('i_1');
    expect(Object.keys(await firstValueFrom(db.indexInformation('c0'))).sort()).toEqual(['_id_', 'i_1']);
    expect(await firstValueFrom(db.dropDatabase())).toBe(true);
    expect(await firstValueFrom(client.listDatabaseNames())).not.toContain(db.name);
  });
});

describeWith(['failCommand'], 'database operations on a failing server', () => {
  it('command aborts the request on unsubscribe while it is in flight', async () => {
    const delivered = await unsubscribeInFlight(m, 'ping', db.command({ ping: 1 }));
    await eventually(() => m.failed.some((e) => e.commandName === 'ping'), 'ping aborted');
    expect(m.succeeded.filter((e) => e.commandName === 'ping')).toHaveLength(0);
    expect(delivered()).toBe(0);
  });

  it('listCollections passes the server error through unchanged', async () => {
    await failCommand(m, { failCommands: ['listCollections'], errorCode: 2 });
    const error = await lastValueFrom(db.listCollections()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(2);
  });
});
