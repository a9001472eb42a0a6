/**
 * RxCollection on the run's backend: the driver's Collection surface through
 * the typed mapping — single results as one-value Observables, cursors as
 * Observables of documents fetched batch by batch and killed on unsubscribe.
 */
import { MongoServerError, type Document } from 'mongodb';
import { concatMap, firstValueFrom, lastValueFrom, Subject, take, toArray } from 'rxjs';
import type { RxMongoClient } from '../../lib/client/client';
import { RxCollection } from '../../lib/client/collection';
import { InvalidNameError } from '../../lib/errors';
import { describeWith, uniqueDbName } from '../support/backend';
import { eventually, failCommand, monitoredClient, settle, unsubscribeInFlight, type Monitored } from './client-monitor';

interface Item {
  _id: number;
  group: string;
  n: number;
}

let m: Monitored;
let client: RxMongoClient;
let items: RxCollection<Item>;

const TEN: Item[] = Array.from({ length: 10 }, (_, i) => ({ _id: i, group: i % 2 === 0 ? 'even' : 'odd', n: i }));

beforeEach(async () => {
  m = monitoredClient();
  client = m.client;
  items = client.db(uniqueDbName('coll')).collection<Item>('items');
  await firstValueFrom(items.insertMany(TEN));
  m.reset();
});

afterEach(async () => {
  await lastValueFrom(client.close());
});

describe('db.collection(name)', () => {
  it('returns an RxCollection bound to its database, sending nothing', async () => {
    const db = client.db(uniqueDbName('coll'));
    const c = db.collection('things');
    expect(c).toBeInstanceOf(RxCollection);
    expect(c.name).toBe('things');
    expect(c.collectionName).toBe('things');
    expect(c.namespace).toBe(`${db.name}.things`);
    expect(c.database).toBe(db);
    expect(c.driver.collectionName).toBe('things');
    await settle();
    expect(m.started).toHaveLength(0);
  });

  it('throws InvalidNameError at the call for names the server refuses', () => {
    const db = client.db(uniqueDbName('coll'));
    for (const name of ['', 'a$b', 'a\0b', '.a', 'a..b']) {
      expect(() => db.collection(name)).toThrow(InvalidNameError);
    }
  });
});

describe('find (cursor semantics)', () => {
  it('sends nothing before subscribe and runs the query again on each subscribe', async () => {
    const find$ = items.find({ group: 'even' }, { sort: { _id: 1 } });
    await settle();
    expect(m.commands('find')).toHaveLength(0);
    const first = await lastValueFrom(find$.pipe(toArray()));
    const second = await lastValueFrom(find$.pipe(toArray()));
    expect(first.map((d) => d._id)).toEqual([0, 2, 4, 6, 8]);
    expect(second).toEqual(first);
    expect(m.commands('find')).toHaveLength(2);
  });

  it('fetches batches lazily: no getMore beyond what was taken', async () => {
    const taken = await lastValueFrom(items.find({}, { batchSize: 2, sort: { _id: 1 } }).pipe(take(2), toArray()));
    expect(taken.map((d) => d._id)).toEqual([0, 1]);
    await eventually(() => m.commands('killCursors').length === 1, 'killCursors');
    expect(m.commands('getMore')).toHaveLength(0);
  });

  it('kills the server cursor on unsubscribe', async () => {
    const taken = await lastValueFrom(items.find({}, { batchSize: 2, sort: { _id: 1 } }).pipe(take(3), toArray()));
    expect(taken.map((d) => d._id)).toEqual([0, 1, 2]);
    await eventually(() => m.commands('killCursors').length === 1, 'killCursors');
    expect(m.commands('getMore')).toHaveLength(1);
    const [findReply] = m.succeeded.filter((e) => e.commandName === 'find');
    const [kill] = m.commands('killCursors');
    expect(kill.killCursors).toBe('items');
    expect(kill.cursors.map(String)).toEqual([String((findReply.reply as Document).cursor.id)]);
  });

  it('drains every batch and does not kill an exhausted cursor', async () => {
    const all = await lastValueFrom(items.find({}, { batchSize: 3 }).pipe(toArray()));
    expect(all).toHaveLength(10);
    expect(m.commands('getMore').length).toBeGreaterThanOrEqual(3);
    await settle();
    expect(m.commands('killCursors')).toHaveLength(0);
  });

  it('kills the cursor when the consumer unsubscribes mid-stream from a slow pipeline', async () => {
    const stop = new Subject<void>();
    const seen: number[] = [];
    const subscription = items
      .find({}, { batchSize: 2, sort: { _id: 1 } })
      .pipe(concatMap(async (doc) => doc._id))
      .subscribe((id) => {
        seen.push(id);
        if (id === 4) stop.next();
      });
    stop.subscribe(() => subscription.unsubscribe());
    await eventually(() => m.commands('killCursors').length === 1, 'killCursors');
    expect(seen).toContain(4);
    expect(seen).not.toContain(9);
  });

  it('sends server errors to the error channel unchanged', async () => {
    const error = await lastValueFrom(items.find({ $bogus: 1 } as Document)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(2);
  });
});

describe('aggregate and listIndexes (cursors)', () => {
  it('aggregate emits the pipeline results, typed by the caller', async () => {
    const groups = await lastValueFrom(
      items
        .aggregate<{ _id: string; total: number }>([{ $group: { _id: '$group', total: { $sum: '$n' } } }, { $sort: { _id: 1 } }])
        .pipe(toArray()),
    );
    expect(groups).toEqual([
      { _id: 'even', total: 20 },
      { _id: 'odd', total: 25 },
    ]);
  });

  it('aggregate kills its cursor on unsubscribe', async () => {
    await lastValueFrom(items.aggregate([{ $sort: { _id: 1 } }], { batchSize: 2 }).pipe(take(1), toArray()));
    await eventually(() => m.commands('killCursors').length === 1, 'killCursors');
  });

  it('listIndexes emits each index', async () => {
    await firstValueFrom(items.createIndex({ group: 1 }, { name: 'by_group' }));
    const names = await lastValueFrom(items.listIndexes().pipe(toArray()));
    expect(names.map((ix) => ix.name).sort()).toEqual(['_id_', 'by_group']);
  });
});

describe('single-result methods', () => {
  it('insertOne / findOne / countDocuments / estimatedDocumentCount / distinct', async () => {
    const inserted = await firstValueFrom(items.insertOne({ _id: 10, group: 'odd', n: 10 }));
    expect(inserted.insertedId).toBe(10);
    expect(await firstValueFrom(items.findOne({ _id: 10 }))).toEqual({ _id: 10, group: 'odd', n: 10 });
    expect(await firstValueFrom(items.findOne({ _id: 99 }))).toBeNull();
    expect(await firstValueFrom(items.countDocuments({ group: 'odd' }))).toBe(6);
    expect(await firstValueFrom(items.estimatedDocumentCount())).toBe(11);
    expect((await firstValueFrom(items.distinct('group'))).sort()).toEqual(['even', 'odd']);
  });

  it('updateOne / updateMany / replaceOne / deleteOne / deleteMany', async () => {
    expect((await firstValueFrom(items.updateOne({ _id: 1 }, { $set: { n: 100 } }))).modifiedCount).toBe(1);
    expect((await firstValueFrom(items.updateMany({ group: 'even' }, { $inc: { n: 1 } }))).modifiedCount).toBe(5);
    expect((await firstValueFrom(items.replaceOne({ _id: 2 }, { group: 'x', n: 0 }))).modifiedCount).toBe(1);
    expect((await firstValueFrom(items.deleteOne({ _id: 3 }))).deletedCount).toBe(1);
    expect((await firstValueFrom(items.deleteMany({ group: 'odd' }))).deletedCount).toBe(4);
    expect(await firstValueFrom(items.findOne({ _id: 2 }))).toEqual({ _id: 2, group: 'x', n: 0 });
  });

  it('findOneAndUpdate / findOneAndReplace / findOneAndDelete', async () => {
    expect(await firstValueFrom(items.findOneAndUpdate({ _id: 1 }, { $set: { n: 7 } }, { returnDocument: 'after' }))).toEqual({
      _id: 1,
      group: 'odd',
      n: 7,
    });
    expect(await firstValueFrom(items.findOneAndReplace({ _id: 1 }, { group: 'r', n: 0 }))).toMatchObject({ n: 7 });
    expect(await firstValueFrom(items.findOneAndDelete({ _id: 1 }))).toMatchObject({ group: 'r' });
    expect(await firstValueFrom(items.findOne({ _id: 1 }))).toBeNull();
  });

  it('bulkWrite runs mixed writes', async () => {
    const result = await firstValueFrom(
      items.bulkWrite([
        { insertOne: { document: { _id: 20, group: 'new', n: 20 } } },
        { updateOne: { filter: { _id: 0 }, update: { $set: { n: -1 } } } },
        { deleteOne: { filter: { _id: 9 } } },
      ]),
    );
    expect([result.insertedCount, result.modifiedCount, result.deletedCount]).toEqual([1, 1, 1]);
  });

  it('each subscribe writes again; nothing before subscribe', async () => {
    const insert$ = items.insertOne({ _id: 50, group: 'g', n: 0 });
    await settle();
    expect(m.commands('insert')).toHaveLength(0);
    await firstValueFrom(insert$);
    const duplicate = await firstValueFrom(insert$).catch((err: unknown) => err);
    expect(duplicate).toBeInstanceOf(MongoServerError);
    expect((duplicate as MongoServerError).code).toBe(11000);
    expect(m.commands('insert')).toHaveLength(2);
  });

  it('index methods', async () => {
    expect(await firstValueFrom(items.createIndex({ n: -1 }))).toBe('n_-1');
    expect(await firstValueFrom(items.createIndexes([{ key: { group: 1, n: 1 } }]))).toEqual(['group_1_n_1']);
    expect(await firstValueFrom(items.indexExists('n_-1'))).toBe(true);
    expect(Object.keys(await firstValueFrom(items.indexInformation())).sort()).toEqual(['_id_', 'group_1_n_1', 'n_-1']);
    expect((await firstValueFrom(items.indexes())).map((ix) => ix.name).sort()).toEqual(['_id_', 'group_1_n_1', 'n_-1']);
    await firstValueFrom(items.dropIndex('n_-1'));
    expect(await firstValueFrom(items.indexExists('n_-1'))).toBe(false);
    expect(await firstValueFrom(items.dropIndexes())).toBe(true);
  });

  it('rename emits the renamed RxCollection in the same database; drop', async () => {
    const renamed = await firstValueFrom(items.rename('renamed'));
    expect(renamed).toBeInstanceOf(RxCollection);
    expect(renamed.name).toBe('renamed');
    expect(renamed.database).toBe(items.database);
    expect(await firstValueFrom(renamed.countDocuments())).toBe(10);
    expect(() => items.rename('bad$name')).toThrow(InvalidNameError);
    expect(await firstValueFrom(renamed.drop())).toBe(true);
  });

  it('options / isCapped', async () => {
    const capped = await firstValueFrom(items.database.createCollection('capped', { capped: true, size: 4096 }));
    expect(await firstValueFrom(capped.isCapped())).toBe(true);
    expect(await firstValueFrom(capped.options())).toMatchObject({ capped: true });
    expect(await firstValueFrom(items.isCapped())).toBe(false);
  });

  it('withOptions keeps the namespace and changes the write concern', async () => {
    const majority = items.withOptions({ writeConcern: { w: 'majority' } });
    expect(majority.namespace).toBe(items.namespace);
    expect(majority.writeConcern?.w).toBe('majority');
    await firstValueFrom(majority.insertOne({ _id: 30, group: 'wc', n: 0 }));
    expect(m.commands('insert').at(-1)?.writeConcern).toMatchObject({ w: 'majority' });
  });
});

describeWith(['failCommand'], 'cancellation and errors on a failing server', () => {
  it('findOne aborts the request on unsubscribe while it is in flight, which costs its connection', async () => {
    const closed = countClosedConnections(client);
    const delivered = await unsubscribeInFlight(m, 'find', items.findOne({ _id: 1 }));
    await eventually(() => m.failed.some((e) => e.commandName === 'find'), 'find aborted');
    expect(m.succeeded.filter((e) => e.commandName === 'find')).toHaveLength(0);
    expect(delivered()).toBe(0);
    // The driver aborts a request already sent by closing its connection.
    await eventually(() => closed() >= 1, 'the connection closed');
  });

  it("with onUnsubscribe: 'ignore', a findOne left in flight runs to its end on its connection, its result dropped", async () => {
    const ignoring = monitoredClient({ onUnsubscribe: 'ignore' });
    try {
      const coll = ignoring.client.db(items.dbName).collection<Item>(items.collectionName);
      await firstValueFrom(coll.findOne({ _id: 0 }));
      const closed = countClosedConnections(ignoring.client);
      const delivered = await unsubscribeInFlight(ignoring, 'find', coll.findOne({ _id: 1 }), 300);
      await eventually(() => ignoring.succeeded.some((e) => e.commandName === 'find'), 'find answered');
      expect(ignoring.failed).toHaveLength(0);
      expect(delivered()).toBe(0);
      expect(closed()).toBe(0);
      // The same connection serves the next call.
      expect(await firstValueFrom(coll.findOne({ _id: 2 }))).toMatchObject({ _id: 2 });
      expect(closed()).toBe(0);
    } finally {
      await lastValueFrom(ignoring.client.close());
    }
  });

  it('countDocuments aborts the request on unsubscribe while it is in flight', async () => {
    await unsubscribeInFlight(m, 'aggregate', items.countDocuments());
    await eventually(() => m.failed.some((e) => e.commandName === 'aggregate'), 'aggregate aborted');
  });

  it('a find unsubscribed while its first batch is in flight kills the cursor the server returns', async () => {
    await unsubscribeInFlight(m, 'find', items.find({}, { batchSize: 2 }), 300);
    await eventually(() => m.commands('killCursors').length === 1, 'killCursors after the reply');
    expect(m.commands('getMore')).toHaveLength(0);
  });

  it.each([
    ['insertOne', 'insert', () => items.insertOne({ _id: 77, group: 'x', n: 0 })],
    ['findOne', 'find', () => items.findOne()],
    ['find', 'find', () => items.find()],
    ['getMore of find', 'getMore', () => items.find({}, { batchSize: 2 })],
    ['countDocuments', 'aggregate', () => items.countDocuments()],
    ['updateMany', 'update', () => items.updateMany({}, { $set: { n: 0 } })],
    ['deleteOne', 'delete', () => items.deleteOne({ _id: 1 })],
    ['distinct', 'distinct', () => items.distinct('group')],
  ] as const)('%s passes the server error through unchanged', async (_name, command, make) => {
    await failCommand(m, { failCommands: [command], errorCode: 2, errorLabels: ['SpecLabel'] });
    const error = await lastValueFrom(make() as ReturnType<typeof items.findOne>).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(2);
    expect((error as MongoServerError).hasErrorLabel('SpecLabel')).toBe(true);
  });
});

/** Counts the pool's closed connections from now on. */
function countClosedConnections(rx: RxMongoClient): () => number {
  let closed = 0;
  rx.driver.on('connectionClosed', () => (closed += 1));
  return () => closed;
}
