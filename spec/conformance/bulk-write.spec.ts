/**
 * The server 8.0 admin `bulkWrite` command behind the driver's
 * `MongoClient.bulkWrite`: operations on several namespaces in one command,
 * verbose and summary results, ordered and unordered write errors, and the
 * raw reply with its results cursor.
 */
import { MongoClientBulkWriteError, MongoServerError, ObjectId, type AnyClientBulkWriteModel, type Document } from 'mongodb';
import { scratchDatabase, type AnyIdDoc } from '../support/scratch';

type Doc = AnyIdDoc;
const scratch = scratchDatabase('bulk');

const ns = (): string => `${scratch.db.databaseName}.${scratch.freshName()}`;

const collectionOf = (namespace: string) => scratch.db.collection<Doc>(namespace.slice(scratch.db.databaseName.length + 1));

describe('MongoClient.bulkWrite', () => {
  it('applies inserts, updates, replaces and deletes across namespaces, with verbose results', async () => {
    const a = ns();
    const b = ns();
    await collectionOf(b).insertMany([{ _id: 1, n: 1 }, { _id: 2, n: 2 }, { _id: 3, n: 3 }]);
    const models: AnyClientBulkWriteModel<Doc>[] = [
      { namespace: a, name: 'insertOne', document: { _id: 'x', v: 1 } },
      { namespace: a, name: 'insertOne', document: { v: 2 } },
      { namespace: b, name: 'updateOne', filter: { _id: 1 }, update: { $inc: { n: 10 } } },
      { namespace: b, name: 'updateMany', filter: { n: { $gte: 2 } }, update: { $set: { big: true } } },
      { namespace: b, name: 'updateOne', filter: { _id: 9 }, update: { $set: { n: 9 } }, upsert: true },
      { namespace: b, name: 'replaceOne', filter: { _id: 2 }, replacement: { replaced: true } },
      { namespace: b, name: 'deleteOne', filter: { _id: 3 } },
      { namespace: a, name: 'deleteMany', filter: { v: { $gt: 5 } } },
    ];
    const result = await scratch.client.bulkWrite<Record<string, Doc>>(models, { verboseResults: true });
    expect(result).toMatchObject({ acknowledged: true, insertedCount: 2, matchedCount: 5, modifiedCount: 5, upsertedCount: 1, deletedCount: 1 });
    expect(result.insertResults?.get(0)).toEqual({ insertedId: 'x' });
    expect(result.insertResults?.get(1)?.insertedId).toBeInstanceOf(ObjectId);
    expect(result.updateResults?.get(2)).toMatchObject({ matchedCount: 1, modifiedCount: 1, didUpsert: false });
    expect(result.updateResults?.get(3)).toMatchObject({ matchedCount: 3, modifiedCount: 3 });
    // mongod counts an upsert as n: 1 in its reply item, which the driver reports as matchedCount.
    expect(result.updateResults?.get(4)).toMatchObject({ matchedCount: 1, modifiedCount: 0, didUpsert: true, upsertedId: 9 });
    expect(result.deleteResults?.get(6)).toEqual({ deletedCount: 1 });
    expect(result.deleteResults?.get(7)).toEqual({ deletedCount: 0 });
    expect(await collectionOf(a).countDocuments()).toBe(2);
    expect(await collectionOf(b).find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, n: 11, big: true },
      { _id: 2, replaced: true },
      { _id: 9, n: 9 },
    ]);
  });

  it('summarises counts without verbose results', async () => {
    const a = ns();
    const result = await scratch.client.bulkWrite<Record<string, Doc>>([
      { namespace: a, name: 'insertOne', document: { _id: 1 } },
      { namespace: a, name: 'updateOne', filter: { _id: 1 }, update: { $set: { a: 1 } } },
    ]);
    expect(result).toMatchObject({ insertedCount: 1, matchedCount: 1, modifiedCount: 1 });
    expect(result.insertResults).toBeUndefined();
  });

  it('updates the first document in sort order for updateOne with a sort', async () => {
    const a = ns();
    await collectionOf(a).insertMany([{ _id: 1, rank: 3 }, { _id: 2, rank: 1 }, { _id: 3, rank: 2 }]);
    await scratch.client.bulkWrite<Record<string, Doc>>([{ namespace: a, name: 'updateOne', filter: {}, update: { $set: { top: true } }, sort: { rank: 1 } }]);
    expect((await collectionOf(a).find({ top: true }).toArray()).map((d) => d._id)).toEqual([2]);
  });

  it('stops an ordered bulk write at the first error', async () => {
    const a = ns();
    await collectionOf(a).insertOne({ _id: 1 });
    const err = await scratch.client.bulkWrite<Record<string, Doc>>([
      { namespace: a, name: 'insertOne', document: { _id: 2 } },
      { namespace: a, name: 'insertOne', document: { _id: 1 } },
      { namespace: a, name: 'insertOne', document: { _id: 3 } },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoClientBulkWriteError);
    const bulk = err as MongoClientBulkWriteError;
    expect([...bulk.writeErrors.entries()].map(([i, e]) => [i, e.code])).toEqual([[1, 11000]]);
    expect(bulk.partialResult?.insertedCount).toBe(1);
    expect((await collectionOf(a).find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2]);
  });

  it('goes on past errors when unordered', async () => {
    const a = ns();
    await collectionOf(a).insertOne({ _id: 1, s: 'x' });
    const err = await scratch.client.bulkWrite<Record<string, Doc>>([
      { namespace: a, name: 'insertOne', document: { _id: 1 } },
      { namespace: a, name: 'updateOne', filter: { _id: 1 }, update: { $inc: { s: 1 } } },
      { namespace: a, name: 'insertOne', document: { _id: 2 } },
    ], { ordered: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoClientBulkWriteError);
    const bulk = err as MongoClientBulkWriteError;
    expect([...bulk.writeErrors.entries()].map(([i, e]) => [i, e.code]).sort()).toEqual([[0, 11000], [1, 14]]);
    expect(bulk.partialResult?.insertedCount).toBe(1);
    expect(await collectionOf(a).countDocuments()).toBe(2);
  });
});

describe('the raw bulkWrite command', () => {
  const admin = () => scratch.client.db('admin');

  it('replies with counts and a results cursor', async () => {
    const a = ns();
    const reply = await admin().command({
      bulkWrite: 1,
      ops: [
        { insert: 0, document: { _id: 1 } },
        { insert: 0, document: { _id: 1 } },
        { update: 0, filter: { _id: 1 }, updateMods: { $set: { x: 1 } }, multi: false },
        { delete: 0, filter: { _id: 1 }, multi: false },
      ],
      nsInfo: [{ ns: a }],
      ordered: false,
    });
    expect(reply).toMatchObject({ ok: 1, nErrors: 1, nInserted: 1, nMatched: 1, nModified: 1, nUpserted: 0, nDeleted: 1 });
    expect(reply.cursor.ns).toBe('admin.$cmd.bulkWrite');
    expect(reply.cursor.firstBatch.map((r: Document) => [r.idx, r.ok, r.code ?? null])).toEqual([
      [0, 1, null], [1, 0, 11000], [2, 1, null], [3, 1, null],
    ]);
    const errorsOnly = await admin().command({
      bulkWrite: 1, ops: [{ insert: 0, document: { _id: 5 } }, { insert: 0, document: { _id: 5 } }], nsInfo: [{ ns: a }], errorsOnly: true,
    });
    expect(errorsOnly.cursor.firstBatch).toEqual([expect.objectContaining({ ok: 0, idx: 1, code: 11000 })]);
  });

  it('pages the results cursor through getMore', async () => {
    const a = ns();
    const ops = Array.from({ length: 5 }, (_, i) => ({ insert: 0, document: { _id: i } }));
    const reply = await admin().command({ bulkWrite: 1, ops, nsInfo: [{ ns: a }], cursor: { batchSize: 2 } });
    expect(reply.cursor.firstBatch).toHaveLength(2);
    const more = await admin().command({ getMore: reply.cursor.id, collection: '$cmd.bulkWrite' });
    expect(more.cursor.nextBatch.map((r: Document) => r.idx)).toEqual([2, 3, 4]);
  });

  it('must run on admin and checks its arguments', async () => {
    const a = ns();
    const onOther = await scratch.db.command({ bulkWrite: 1, ops: [{ insert: 0, document: {} }], nsInfo: [{ ns: a }] }).catch((e: unknown) => e);
    expect(onOther).toBeInstanceOf(MongoServerError);
    expect((onOther as MongoServerError).code).toBe(13);
    const missing = await admin().command({ bulkWrite: 1, ops: [{ insert: 0, document: {} }] }).catch((e: unknown) => e);
    expect((missing as MongoServerError).code).toBe(40414);
  });
});
