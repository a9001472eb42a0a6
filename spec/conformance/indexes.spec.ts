/**
 * Indexes through the stock driver, as mongod 8.0 manages them:
 * createIndexes (implicit collection creation, idempotence, conflicts, bad
 * specifications), unique enforcement with duplicate key errors 11000 on
 * insert, update, upsert and index build, listIndexes, dropIndexes, and
 * hints naming indexes.
 */
import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';
import { scratchDatabase, type AnyIdDoc } from '../support/scratch';
import { serverError } from '../support/server-error';

type Doc = AnyIdDoc;
const scratch = scratchDatabase('idx');

const fresh = (): Collection<Doc> => scratch.db.collection<Doc>(scratch.freshName());

const indexNames = async (coll: Collection<Doc>) => (await coll.listIndexes().toArray()).map((i) => i.name).sort();

describe('createIndexes', () => {
  it('creates the collection when needed and reports index counts', async () => {
    const coll = fresh();
    const reply = await scratch.db.command({ createIndexes: coll.collectionName, indexes: [{ key: { a: 1 }, name: 'a_1' }] });
    expect(reply).toMatchObject({ ok: 1, numIndexesBefore: 1, numIndexesAfter: 2, createdCollectionAutomatically: true });
    const again = await scratch.db.command({ createIndexes: coll.collectionName, indexes: [{ key: { a: 1 }, name: 'a_1' }] });
    expect(again).toMatchObject({ ok: 1, numIndexesBefore: 2, numIndexesAfter: 2, note: 'all indexes already exist' });
  });

  it('lists indexes with their options', async () => {
    const coll = fresh();
    expect(await coll.createIndex({ b: -1, c: 1 })).toBe('b_-1_c_1');
    expect(await coll.createIndex({ u: 1 }, { unique: true, name: 'u_unique' })).toBe('u_unique');
    const indexes = await coll.listIndexes().toArray();
    expect(indexes).toEqual(expect.arrayContaining([
      expect.objectContaining({ v: 2, key: { _id: 1 }, name: '_id_' }),
      expect.objectContaining({ v: 2, key: { b: -1, c: 1 }, name: 'b_-1_c_1' }),
      expect.objectContaining({ v: 2, key: { u: 1 }, name: 'u_unique', unique: true }),
    ]));
    expect(indexes).toHaveLength(3);
    expect(await coll.indexExists('u_unique')).toBe(true);
  });

  it('refuses a name clash with a different key (86) and a key clash under another name (85)', async () => {
    const coll = fresh();
    await coll.createIndex({ a: 1 }, { name: 'mine' });
    expect(await serverError(coll.createIndex({ b: 1 }, { name: 'mine' }))).toMatchObject({ code: 86, codeName: 'IndexKeySpecsConflict' });
    expect(await serverError(coll.createIndex({ a: 1 }, { name: 'other' }))).toMatchObject({ code: 85, codeName: 'IndexOptionsConflict' });
  });

  it('refuses bad specifications', async () => {
    const coll = fresh();
    const create = (spec: Document) => scratch.db.command({ createIndexes: coll.collectionName, indexes: [spec] });
    expect((await serverError(create({ name: 'nokey' }))).code).toBe(9);
    expect((await serverError(create({ key: { a: 'nonsense' }, name: 'bad' }))).code).toBe(67);
    expect((await serverError(create({ key: {}, name: 'empty' }))).code).toBe(67);
    expect((await serverError(scratch.db.command({ createIndexes: coll.collectionName }))).code).toBe(40414);
  });
});

describe('unique indexes', () => {
  it('refuse a duplicate on insert with keyPattern and keyValue', async () => {
    const coll = fresh();
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.insertOne({ email: 'a@x' });
    const err = await serverError(coll.insertOne({ email: 'a@x' }));
    expect(err.code).toBe(11000);
    expect(err.message).toMatch(/E11000 duplicate key error collection: .* index: email_1/);
    expect(err.keyPattern).toEqual({ email: 1 });
    expect(err.keyValue).toEqual({ email: 'a@x' });
  });

  it('treat missing fields as null', async () => {
    const coll = fresh();
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.insertOne({ name: 'first' });
    expect((await serverError(coll.insertOne({ name: 'second' }))).code).toBe(11000);
  });

  it('enforce compound keys on the combination', async () => {
    const coll = fresh();
    await coll.createIndex({ a: 1, b: 1 }, { unique: true });
    await coll.insertMany([{ a: 1, b: 1 }, { a: 1, b: 2 }]);
    const err = await serverError(coll.insertOne({ a: 1, b: 2 }));
    expect(err.keyValue).toEqual({ a: 1, b: 2 });
  });

  it('refuse an update or upsert that would duplicate a key', async () => {
    const coll = fresh();
    await coll.createIndex({ k: 1 }, { unique: true });
    await coll.insertMany([{ _id: 1, k: 'one' }, { _id: 2, k: 'two' }]);
    expect((await serverError(coll.updateOne({ _id: 2 }, { $set: { k: 'one' } }))).code).toBe(11000);
    expect((await serverError(coll.updateOne({ _id: 3 }, { $set: { k: 'two' } }, { upsert: true }))).code).toBe(11000);
    expect((await serverError(coll.replaceOne({ _id: 1 }, { k: 'two' }))).code).toBe(11000);
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, k: 'one' }, { _id: 2, k: 'two' }]);
    await coll.updateOne({ _id: 1 }, { $set: { k: 'uno' } });
    await coll.updateOne({ _id: 2 }, { $set: { k: 'one' } });
    expect(await coll.findOne({ _id: 2 })).toEqual({ _id: 2, k: 'one' });
  });

  it('report duplicates in a batch by index, continuing when unordered', async () => {
    const coll = fresh();
    await coll.createIndex({ k: 1 }, { unique: true });
    const err = await coll.insertMany([{ k: 1 }, { k: 1 }, { k: 2 }, { k: 2 }], { ordered: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bulk = err as MongoBulkWriteError;
    expect(bulk.result.insertedCount).toBe(2);
    const errors = Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors];
    expect(errors.map((e) => [e.index, e.code])).toEqual([[1, 11000], [3, 11000]]);
  });

  it('cannot be built over existing duplicates', async () => {
    const coll = fresh();
    await coll.insertMany([{ k: 1 }, { k: 1 }]);
    const err = await serverError(coll.createIndex({ k: 1 }, { unique: true }));
    expect(err.code).toBe(11000);
    expect(await indexNames(coll)).toEqual(['_id_']);
  });

  it('stop enforcing once dropped', async () => {
    const coll = fresh();
    await coll.createIndex({ k: 1 }, { unique: true });
    await coll.insertOne({ k: 1 });
    await coll.dropIndex('k_1');
    await coll.insertOne({ k: 1 });
    expect(await coll.countDocuments({ k: 1 })).toBe(2);
  });
});

describe('dropIndexes', () => {
  it('drops by name, by key pattern, and all but _id with *', async () => {
    const coll = fresh();
    await coll.createIndexes([{ key: { a: 1 } }, { key: { b: 1 } }, { key: { c: 1 } }, { key: { d: 1 } }]);
    expect((await scratch.db.command({ dropIndexes: coll.collectionName, index: 'a_1' })).nIndexesWas).toBe(5);
    await scratch.db.command({ dropIndexes: coll.collectionName, index: { b: 1 } });
    expect(await indexNames(coll)).toEqual(['_id_', 'c_1', 'd_1']);
    await scratch.db.command({ dropIndexes: coll.collectionName, index: ['c_1'] });
    await coll.dropIndexes();
    expect(await indexNames(coll)).toEqual(['_id_']);
  });

  it('refuses a missing index (27), the _id index (72) and a missing collection (26)', async () => {
    const coll = fresh();
    await coll.insertOne({ a: 1 });
    expect(await serverError(coll.dropIndex('nope_1'))).toMatchObject({ code: 27, codeName: 'IndexNotFound' });
    expect(await serverError(coll.dropIndex('_id_'))).toMatchObject({ code: 72, codeName: 'InvalidOptions' });
    expect(await serverError(scratch.db.command({ dropIndexes: 'never_created', index: 'a_1' }))).toMatchObject({ code: 26 });
  });
});

describe('hint', () => {
  it('accepts an index by name or key and refuses an unknown one', async () => {
    const coll = fresh();
    await coll.insertMany([{ a: 1 }, { a: 2 }]);
    await coll.createIndex({ a: 1 });
    expect(await coll.find({ a: 2 }, { hint: 'a_1' }).toArray()).toHaveLength(1);
    expect(await coll.find({ a: 2 }, { hint: { a: 1 } }).toArray()).toHaveLength(1);
    expect(await coll.countDocuments({}, { hint: '_id_' })).toBe(2);
    expect((await serverError(coll.find({}, { hint: { zzz: 1 } }).toArray())).code).toBe(2);
    expect((await serverError(coll.updateOne({ a: 1 }, { $set: { b: 1 } }, { hint: 'nope' }))).code).toBe(2);
  });
});
