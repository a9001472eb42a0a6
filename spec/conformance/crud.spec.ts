/**
 * The CRUD commands through the stock driver, as mongod 8.0 answers them:
 * insert (generated `_id`s, ordered and unordered write errors), find
 * (filters, sorts, projections, batches, BSON value comparisons), every
 * update operator with positional and filtered paths, upserts, replacements,
 * deletes, findAndModify, count and distinct — and the errors mongod gives
 * for bad arguments.
 */
import {
  Binary,
  Decimal128,
  Long,
  MongoBulkWriteError,
  MongoServerError,
  ObjectId,
  Timestamp,
  UUID,
  type Collection,
  type Document,
} from 'mongodb';
import { driverClient } from '../support/backend';
import { scratchDatabase, type AnyIdDoc } from '../support/scratch';
import { serverError } from '../support/server-error';

type Doc = AnyIdDoc;
const scratch = scratchDatabase('crud');

/** A fresh collection, optionally seeded. */
const { fresh } = scratch;

/** The server error a promise rejects with. */
/** Runs one update statement as a raw command, for what the driver would refuse client-side. */
function rawUpdate(coll: Collection<Doc>, statement: Document): Promise<Document> {
  return scratch.db.command({ update: coll.collectionName, updates: [statement] });
}

/** Applies `update` to one seeded document and returns it afterwards. */
async function afterUpdate(seed: Document, update: Document | Document[], options: Document = {}): Promise<Document | null> {
  const coll = await fresh([seed]);
  await coll.updateOne({ _id: seed._id }, update, options);
  return coll.findOne({ _id: seed._id });
}

async function updateError(seed: Document, update: Document, options: Document = {}): Promise<MongoServerError> {
  const coll = await fresh([seed]);
  return serverError(coll.updateOne({ _id: seed._id }, update, options));
}

describe('insert', () => {
  it('generates an ObjectId _id and stores _id first', async () => {
    const coll = await fresh();
    const result = await coll.insertOne({ a: 1 });
    expect(result.insertedId).toBeInstanceOf(ObjectId);
    await coll.insertOne({ b: 2, _id: 'late' });
    const doc = await coll.findOne({ _id: 'late' });
    expect(Object.keys(doc!)).toEqual(['_id', 'b']);
    expect(await coll.findOne({ _id: result.insertedId })).toEqual({ _id: result.insertedId, a: 1 });
  });

  it('refuses a duplicate _id with 11000, keyPattern and keyValue', async () => {
    const coll = await fresh([{ _id: 1 }]);
    const err = await serverError(coll.insertOne({ _id: 1, x: 1 }));
    expect(err.code).toBe(11000);
    expect(err.message).toMatch(/E11000 duplicate key error/);
    expect(err.keyPattern).toEqual({ _id: 1 });
    expect(err.keyValue).toEqual({ _id: 1 });
  });

  it('stops an ordered batch at the first error', async () => {
    const coll = await fresh([{ _id: 2 }]);
    const err = await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bulk = err as MongoBulkWriteError;
    expect(bulk.result.insertedCount).toBe(1);
    expect(bulk.writeErrors).toEqual([expect.objectContaining({ index: 1, code: 11000 })]);
    expect(await coll.countDocuments()).toBe(2);
  });

  it('goes on past errors in an unordered batch', async () => {
    const coll = await fresh([{ _id: 2 }, { _id: 4 }]);
    const err = await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }, { _id: 4 }, { _id: 5 }], { ordered: false }).catch((e: unknown) => e);
    const bulk = err as MongoBulkWriteError;
    expect(bulk).toBeInstanceOf(MongoBulkWriteError);
    expect(bulk.result.insertedCount).toBe(3);
    const errors = Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors];
    expect(errors.map((e) => [e.index, e.code])).toEqual([[1, 11000], [3, 11000]]);
    expect((await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers the raw command with n and writeErrors', async () => {
    const coll = await fresh([{ _id: 1 }]);
    const reply = await scratch.db.command({ insert: coll.collectionName, documents: [{ _id: 1 }, { _id: 2 }], ordered: false });
    expect(reply.ok).toBe(1);
    expect(reply.n).toBe(1);
    expect(reply.writeErrors).toEqual([
      expect.objectContaining({ index: 0, code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 1 } }),
    ]);
  });

  it('refuses an array _id with InvalidIdField', async () => {
    const coll = await fresh();
    const err = await serverError(coll.insertOne({ _id: [1, 2] as unknown as number }));
    expect(err.code).toBe(53);
  });
});

describe('find', () => {
  const people = [
    { _id: 1, name: 'ann', age: 31, tags: ['a', 'b'], address: { city: 'Oslo' } },
    { _id: 2, name: 'bob', age: 25, tags: ['b'], address: { city: 'Rome' } },
    { _id: 3, name: 'cid', age: 40, tags: [], address: { city: 'Oslo' } },
    { _id: 4, name: 'dee', age: 25, scores: [{ k: 'x', v: 1 }, { k: 'y', v: 9 }] },
  ];
  let coll: Collection<Doc>;

  beforeAll(async () => {
    coll = await fresh(people);
  });

  const ids = (docs: Document[]) => docs.map((d) => d._id);

  it('filters with query operators', async () => {
    expect(ids(await coll.find({ age: { $gt: 25 } }).sort({ _id: 1 }).toArray())).toEqual([1, 3]);
    expect(ids(await coll.find({ name: { $in: ['bob', 'dee'] } }).sort({ _id: 1 }).toArray())).toEqual([2, 4]);
    expect(ids(await coll.find({ name: { $regex: '^[ab]' } }).sort({ _id: 1 }).toArray())).toEqual([1, 2]);
    expect(ids(await coll.find({ 'address.city': 'Oslo' }).sort({ _id: 1 }).toArray())).toEqual([1, 3]);
    expect(ids(await coll.find({ tags: 'b' }).sort({ _id: 1 }).toArray())).toEqual([1, 2]);
    expect(ids(await coll.find({ address: { $exists: false } }).toArray())).toEqual([4]);
    expect(ids(await coll.find({ scores: { $elemMatch: { k: 'y', v: { $gt: 5 } } } }).toArray())).toEqual([4]);
    expect(ids(await coll.find({ $or: [{ age: 40 }, { name: 'bob' }] }).sort({ _id: 1 }).toArray())).toEqual([2, 3]);
    expect(ids(await coll.find({ tags: { $size: 0 } }).toArray())).toEqual([3]);
  });

  it('sorts on several keys, skips and limits', async () => {
    expect(ids(await coll.find().sort({ age: 1, name: -1 }).toArray())).toEqual([4, 2, 1, 3]);
    expect(ids(await coll.find().sort({ age: -1 }).skip(1).limit(2).toArray())).toEqual([1, 2]);
  });

  it('projects by inclusion, exclusion, $slice, $elemMatch and the positional $', async () => {
    expect(await coll.find({ _id: 1 }, { projection: { name: 1 } }).toArray()).toEqual([{ _id: 1, name: 'ann' }]);
    expect(await coll.find({ _id: 1 }, { projection: { name: 1, _id: 0 } }).toArray()).toEqual([{ name: 'ann' }]);
    expect(await coll.find({ _id: 2 }, { projection: { tags: 0, address: 0 } }).toArray()).toEqual([{ _id: 2, name: 'bob', age: 25 }]);
    expect(await coll.find({ _id: 1 }, { projection: { tags: { $slice: 1 }, name: 1 } }).toArray()).toEqual([{ _id: 1, name: 'ann', tags: ['a'] }]);
    expect(await coll.find({ _id: 4 }, { projection: { scores: { $elemMatch: { k: 'y' } } } }).toArray())
      .toEqual([{ _id: 4, scores: [{ k: 'y', v: 9 }] }]);
    expect(await coll.find({ 'scores.k': 'y' }, { projection: { 'scores.$': 1 } }).toArray()).toEqual([{ _id: 4, scores: [{ k: 'y', v: 9 }] }]);
  });

  it('refuses mixing inclusion and exclusion', async () => {
    const err = await serverError(coll.find({}, { projection: { name: 1, age: 0 } }).toArray());
    expect(err.code).toBe(31254);
  });

  it('returns results in batches through getMore', async () => {
    const many = await fresh(Array.from({ length: 250 }, (_, i) => ({ _id: i })));
    const events: string[] = [];
    const watched = driverClient({ monitorCommands: true });
    watched.on('commandStarted', (e) => events.push(e.commandName));
    try {
      const docs = await watched.db(scratch.db.databaseName).collection(many.collectionName).find({}, { batchSize: 100 }).toArray();
      expect(docs).toHaveLength(250);
      expect(events.filter((e) => e === 'getMore')).toHaveLength(2);
    } finally {
      await watched.close();
    }
  });

  it('closes the cursor after one batch for a negative limit (singleBatch)', async () => {
    const many = await fresh(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
    const reply = await scratch.db.command({ find: many.collectionName, limit: 3, singleBatch: true });
    expect(reply.cursor.firstBatch).toHaveLength(3);
    expect(reply.cursor.id.toString()).toBe('0');
    expect(await many.find({}, { limit: -3 }).toArray()).toHaveLength(3);
  });

  it('evaluates $expr with let variables, and accepts hint, comment, maxTimeMS and collation', async () => {
    const found = await coll
      .find({ $expr: { $gt: ['$age', '$$min'] } }, { let: { min: 30 }, comment: 'spec', maxTimeMS: 5000, hint: { _id: 1 } })
      .sort({ _id: 1 })
      .toArray();
    expect(ids(found)).toEqual([1, 3]);
    expect(await coll.find({ name: 'bob' }, { collation: { locale: 'simple' } }).toArray()).toHaveLength(1);
  });

  it('refuses a hint that names no index', async () => {
    const err = await serverError(coll.find({}, { hint: 'nope_1' }).toArray());
    expect(err.code).toBe(2);
  });

  it('compares ObjectId, Date, Long, Decimal128, Timestamp and Binary values as mongod does', async () => {
    const a = new ObjectId('000000000000000000000001');
    const b = new ObjectId('000000000000000000000002');
    const uuid = new UUID();
    const values = await fresh([
      { _id: b, at: new Date('2024-01-02'), big: Long.fromString('9007199254740993'), price: Decimal128.fromString('10.5'),
        ts: new Timestamp({ t: 10, i: 1 }), bin: new Binary(Buffer.from([2, 0])), uuid },
      { _id: a, at: new Date('2024-01-01'), big: Long.fromNumber(7), price: Decimal128.fromString('2.25'),
        ts: new Timestamp({ t: 9, i: 5 }), bin: new Binary(Buffer.from([1])), uuid: new UUID() },
    ]);
    expect(ids(await values.find({ _id: new ObjectId(a.toHexString()) }).toArray())).toEqual([a]);
    expect(ids(await values.find({ _id: { $gt: a } }).toArray())).toEqual([b]);
    expect(ids(await values.find().sort({ _id: 1 }).toArray())).toEqual([a, b]);
    expect(ids(await values.find({ at: { $lt: new Date('2024-01-02') } }).toArray())).toEqual([a]);
    expect(ids(await values.find({ big: Long.fromString('9007199254740993') }).toArray())).toEqual([b]);
    // Numbers compare by value across types: 7 is less than an int64 beyond 2^53 too.
    expect(ids(await values.find({ big: { $lt: Long.fromString('9007199254740999') } }).sort({ _id: 1 }).toArray())).toEqual([a, b]);
    expect(ids(await values.find({ big: { $gt: 9e15 } }).toArray())).toEqual([b]);
    expect(ids(await values.find({ big: 7 }).toArray())).toEqual([a]);
    expect(ids(await values.find({ big: { $lt: 100 } }).toArray())).toEqual([a]);
    expect(ids(await values.find({ price: { $gt: 3 } }).toArray())).toEqual([b]);
    expect(ids(await values.find({ price: { $lt: Decimal128.fromString('3') } }).toArray())).toEqual([a]);
    expect(ids(await values.find().sort({ price: -1 }).toArray())).toEqual([b, a]);
    expect(ids(await values.find().sort({ ts: 1 }).toArray())).toEqual([a, b]);
    expect(ids(await values.find({ ts: { $gt: new Timestamp({ t: 9, i: 6 }) } }).toArray())).toEqual([b]);
    expect(ids(await values.find({ bin: new Binary(Buffer.from([1])) }).toArray())).toEqual([a]);
    expect(ids(await values.find().sort({ bin: 1 }).toArray())).toEqual([a, b]);
    expect(ids(await values.find({ uuid }).toArray())).toEqual([b]);
    const stored = await values.findOne({ _id: b });
    expect(stored!.price).toBeInstanceOf(Decimal128);
    expect(stored!.ts).toBeInstanceOf(Timestamp);
    expect(stored!.big).toEqual(Long.fromString('9007199254740993'));
  });
});

describe('update operators', () => {
  it('$set, $unset, $inc, $mul, $min, $max and $rename', async () => {
    const doc = await afterUpdate(
      { _id: 1, a: 1, b: 2, c: 3, lo: 5, hi: 5, old: 'x', nested: { keep: 1, drop: 2 } },
      { $set: { a: 10, 'nested.added': true }, $unset: { b: '', 'nested.drop': '' }, $inc: { c: 2, fresh: 1 }, $mul: { hi: 2 },
        $min: { lo: 3 }, $max: { top: 7 }, $rename: { old: 'renamed' } },
    );
    expect(doc).toEqual({ _id: 1, a: 10, c: 5, lo: 3, hi: 10, nested: { keep: 1, added: true }, fresh: 1, top: 7, renamed: 'x' });
  });

  it('adds new fields in lexicographic order', async () => {
    const doc = await afterUpdate({ _id: 1 }, { $set: { zeta: 1, alpha: 2, mid: 3 } });
    expect(Object.keys(doc!)).toEqual(['_id', 'alpha', 'mid', 'zeta']);
  });

  it('$currentDate as a date and as a timestamp', async () => {
    const before = Date.now();
    const doc = await afterUpdate({ _id: 1 }, { $currentDate: { when: true, stamp: { $type: 'timestamp' }, day: { $type: 'date' } } });
    expect(doc!.when).toBeInstanceOf(Date);
    expect(doc!.day).toBeInstanceOf(Date);
    expect((doc!.when as Date).getTime()).toBeGreaterThanOrEqual(before - 2000);
    expect(doc!.stamp).toBeInstanceOf(Timestamp);
  });

  it('$push with $each, $position, $sort and $slice', async () => {
    expect(await afterUpdate({ _id: 1, xs: [5, 1] }, { $push: { xs: 3 } })).toEqual({ _id: 1, xs: [5, 1, 3] });
    expect(await afterUpdate({ _id: 1, xs: [5, 1] }, { $push: { xs: { $each: [3, 4], $position: 0 } } })).toEqual({ _id: 1, xs: [3, 4, 5, 1] });
    expect(await afterUpdate({ _id: 1, xs: [5, 1] }, { $push: { xs: { $each: [3, 4], $sort: 1, $slice: 3 } } })).toEqual({ _id: 1, xs: [1, 3, 4] });
    expect(await afterUpdate({ _id: 1 }, { $push: { xs: { $each: [2, 1], $sort: -1 } } })).toEqual({ _id: 1, xs: [2, 1] });
  });

  it('$addToSet, $pop, $pull, $pullAll and $bit', async () => {
    expect(await afterUpdate({ _id: 1, xs: [1, 2] }, { $addToSet: { xs: 2 } })).toEqual({ _id: 1, xs: [1, 2] });
    expect(await afterUpdate({ _id: 1, xs: [1] }, { $addToSet: { xs: { $each: [1, 3, 3] } } })).toEqual({ _id: 1, xs: [1, 3] });
    expect(await afterUpdate({ _id: 1, xs: [1, 2, 3] }, { $pop: { xs: -1 } })).toEqual({ _id: 1, xs: [2, 3] });
    expect(await afterUpdate({ _id: 1, xs: [1, 2, 3] }, { $pop: { xs: 1 } })).toEqual({ _id: 1, xs: [1, 2] });
    expect(await afterUpdate({ _id: 1, xs: [1, 5, 2, 8] }, { $pull: { xs: { $gte: 5 } } })).toEqual({ _id: 1, xs: [1, 2] });
    expect(await afterUpdate({ _id: 1, xs: [{ k: 1 }, { k: 2 }] }, { $pull: { xs: { k: 2 } } })).toEqual({ _id: 1, xs: [{ k: 1 }] });
    expect(await afterUpdate({ _id: 1, xs: [1, 2, 3, 2] }, { $pullAll: { xs: [2, 3] } })).toEqual({ _id: 1, xs: [1] });
    expect(await afterUpdate({ _id: 1, n: 13 }, { $bit: { n: { and: 10 } } })).toEqual({ _id: 1, n: 8 });
    expect(await afterUpdate({ _id: 1, n: 5 }, { $bit: { n: { or: 2 } } })).toEqual({ _id: 1, n: 7 });
    expect(await afterUpdate({ _id: 1, n: 5 }, { $bit: { n: { xor: 1 } } })).toEqual({ _id: 1, n: 4 });
  });

  it('the positional $, all-positional $[] and filtered $[<id>] with arrayFilters', async () => {
    const coll = await fresh([{ _id: 1, grades: [80, 95, 70], items: [{ k: 'a', n: 1 }, { k: 'b', n: 2 }] }]);
    await coll.updateOne({ _id: 1, grades: 95 }, { $set: { 'grades.$': 96 } });
    await coll.updateOne({ _id: 1, 'items.k': 'b' }, { $inc: { 'items.$.n': 10 } });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, grades: [80, 96, 70], items: [{ k: 'a', n: 1 }, { k: 'b', n: 12 }] });
    await coll.updateOne({ _id: 1 }, { $inc: { 'grades.$[]': 1 } });
    expect((await coll.findOne({ _id: 1 }))!.grades).toEqual([81, 97, 71]);
    await coll.updateOne({ _id: 1 }, { $set: { 'grades.$[low]': 0 } }, { arrayFilters: [{ low: { $lt: 80 } }] });
    expect((await coll.findOne({ _id: 1 }))!.grades).toEqual([81, 97, 0]);
    await coll.updateOne({ _id: 1 }, { $set: { 'items.$[it].n': -1 } }, { arrayFilters: [{ 'it.k': 'a' }] });
    expect((await coll.findOne({ _id: 1 }))!.items).toEqual([{ k: 'a', n: -1 }, { k: 'b', n: 12 }]);
  });

  it('nested filtered positional paths', async () => {
    const doc = await afterUpdate(
      { _id: 1, groups: [{ xs: [1, 6] }, { xs: [7] }] },
      { $set: { 'groups.$[g].xs.$[x]': 0 } },
      { arrayFilters: [{ 'g.xs': { $gt: 5 } }, { x: { $gt: 5 } }] },
    );
    expect(doc).toEqual({ _id: 1, groups: [{ xs: [1, 0] }, { xs: [0] }] });
  });

  it('pipeline updates', async () => {
    const doc = await afterUpdate({ _id: 1, a: 2, b: 3 }, [{ $set: { sum: { $add: ['$a', '$b'] } } }, { $unset: 'a' }]);
    expect(doc).toEqual({ _id: 1, b: 3, sum: 5 });
  });

  it('reports modified counts, and zero for an update that changes nothing', async () => {
    const coll = await fresh([{ _id: 1, a: 1 }, { _id: 2, a: 1 }, { _id: 3, a: 2 }]);
    expect(await coll.updateMany({ a: 1 }, { $set: { b: true } })).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    expect(await coll.updateOne({ _id: 3 }, { $set: { a: 2 } })).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
    expect(await coll.updateOne({ _id: 99 }, { $set: { a: 2 } })).toMatchObject({ matchedCount: 0, modifiedCount: 0, upsertedCount: 0 });
  });

  it('updates the first document in sort order when updateOne has a sort', async () => {
    const coll = await fresh([{ _id: 1, rank: 2 }, { _id: 2, rank: 1 }, { _id: 3, rank: 3 }]);
    await coll.updateOne({}, { $set: { picked: true } }, { sort: { rank: 1 } });
    expect((await coll.find({ picked: true }).toArray()).map((d) => d._id)).toEqual([2]);
  });
});

describe('update errors', () => {
  it('refuses a change of _id (ImmutableField) but allows setting it to itself', async () => {
    expect((await updateError({ _id: 1 }, { $set: { _id: 2 } })).code).toBe(66);
    const coll = await fresh([{ _id: 1 }]);
    expect((await serverError(coll.replaceOne({ _id: 1 }, { _id: 2, a: 1 }))).code).toBe(66);
    expect(await coll.updateOne({ _id: 1 }, { $set: { _id: 1, a: 1 } })).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
  });

  // A write error carries no codeName (mongod's WriteError has index, code, errmsg and extra info only).
  it('refuses unknown modifiers, conflicting paths and non-numeric arithmetic', async () => {
    expect(await updateError({ _id: 1 }, { $foo: { a: 1 } })).toMatchObject({ code: 9 });
    expect(await updateError({ _id: 1, a: 1 }, { $set: { a: 2 }, $inc: { a: 1 } })).toMatchObject({ code: 40 });
    expect(await updateError({ _id: 1, a: 'x' }, { $inc: { a: 1 } })).toMatchObject({ code: 14 });
    expect(await updateError({ _id: 1, a: 1 }, { $inc: { a: 'x' } })).toMatchObject({ code: 14 });
  });

  it('refuses array operators on non-arrays and paths through scalars', async () => {
    expect(await updateError({ _id: 1, a: 1 }, { $push: { a: 2 } })).toMatchObject({ code: 2 });
    expect(await updateError({ _id: 1, a: 1 }, { $addToSet: { a: 2 } })).toMatchObject({ code: 2 });
    expect(await updateError({ _id: 1, a: 1 }, { $set: { 'a.b': 2 } })).toMatchObject({ code: 28 });
  });

  it('refuses a positional update the filter gives no match for, and unmatched array filters', async () => {
    expect(await updateError({ _id: 1, xs: [1] }, { $set: { 'xs.$': 2 } })).toMatchObject({ code: 2 });
    expect(await updateError({ _id: 1, xs: [1] }, { $set: { 'xs.$[e]': 2 } })).toMatchObject({ code: 2 });
    expect(await updateError({ _id: 1, xs: [1] }, { $set: { 'xs.$[e]': 2 } }, { arrayFilters: [{ e: 1 }, { unused: 2 }] }))
      .toMatchObject({ code: 9 });
  });

  it('refuses a $-prefixed field in a replacement and a multi replacement', async () => {
    const coll = await fresh([{ _id: 1 }]);
    const dollar = await rawUpdate(coll, { q: { _id: 1 }, u: { a: 1, $b: 2 } });
    expect(dollar.writeErrors).toEqual([expect.objectContaining({ index: 0, code: 52 })]);
    const multi = await rawUpdate(coll, { q: {}, u: { a: 1 }, multi: true });
    expect(multi.writeErrors).toEqual([expect.objectContaining({ index: 0, code: 9 })]);
  });

  it('reports write errors per statement, stopping ordered batches only', async () => {
    const coll = await fresh([{ _id: 1, a: 'x' }, { _id: 2, a: 1 }]);
    const statements = [
      { q: { _id: 1 }, u: { $inc: { a: 1 } } },
      { q: { _id: 2 }, u: { $inc: { a: 1 } } },
    ];
    const ordered = await scratch.db.command({ update: coll.collectionName, updates: statements });
    expect(ordered).toMatchObject({ ok: 1, n: 0, nModified: 0 });
    expect(ordered.writeErrors).toEqual([expect.objectContaining({ index: 0, code: 14 })]);
    const unordered = await scratch.db.command({ update: coll.collectionName, updates: statements, ordered: false });
    expect(unordered).toMatchObject({ ok: 1, n: 1, nModified: 1 });
    expect(unordered.writeErrors).toEqual([expect.objectContaining({ index: 0, code: 14 })]);
    expect(await coll.findOne({ _id: 2 })).toEqual({ _id: 2, a: 2 });
  });

  it('collection.bulkWrite reports unordered errors with their indexes', async () => {
    const coll = await fresh([{ _id: 1 }]);
    const err = await coll.bulkWrite([
      { insertOne: { document: { _id: 1 } } },
      { updateOne: { filter: { _id: 1 }, update: { $set: { a: 1 } } } },
      { insertOne: { document: { _id: 2 } } },
      { deleteOne: { filter: { _id: 2 } } },
    ], { ordered: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bulk = err as MongoBulkWriteError;
    expect(bulk.result).toMatchObject({ insertedCount: 1, matchedCount: 1, modifiedCount: 1, deletedCount: 1 });
    expect(await coll.find().toArray()).toEqual([{ _id: 1, a: 1 }]);
  });
});

describe('upsert', () => {
  it('inserts the filter equality fields, $set and $setOnInsert fields', async () => {
    const coll = await fresh();
    const result = await coll.updateOne(
      { _id: 7, kind: 'x', 'meta.tag': 't', size: { $eq: 3 }, $and: [{ colour: 'red' }], qty: { $gt: 1 } },
      { $set: { seen: 1 }, $setOnInsert: { created: true } },
      { upsert: true },
    );
    expect(result).toMatchObject({ upsertedCount: 1, upsertedId: 7, matchedCount: 0, modifiedCount: 0 });
    expect(await coll.findOne({ _id: 7 })).toEqual({ _id: 7, kind: 'x', meta: { tag: 't' }, size: 3, colour: 'red', seen: 1, created: true });
    await coll.updateOne({ _id: 7 }, { $set: { seen: 2 }, $setOnInsert: { created: false } }, { upsert: true });
    expect(await coll.findOne({ _id: 7 })).toMatchObject({ seen: 2, created: true });
  });

  it('generates an ObjectId when the filter names no _id', async () => {
    const coll = await fresh();
    const result = await coll.updateOne({ name: 'n' }, { $inc: { hits: 1 } }, { upsert: true });
    expect(result.upsertedId).toBeInstanceOf(ObjectId);
    expect(await coll.findOne({ _id: result.upsertedId! })).toEqual({ _id: result.upsertedId, name: 'n', hits: 1 });
  });

  it('replaceOne upserts the replacement with the filter _id', async () => {
    const coll = await fresh();
    await coll.replaceOne({ _id: 'r', ignored: 1 }, { body: 2 }, { upsert: true });
    expect(await coll.find().toArray()).toEqual([{ _id: 'r', body: 2 }]);
  });

  it('reports upserted entries in the raw reply', async () => {
    const coll = await fresh([{ _id: 1 }]);
    const reply = await scratch.db.command({
      update: coll.collectionName,
      updates: [
        { q: { _id: 1 }, u: { $set: { a: 1 } }, upsert: true },
        { q: { _id: 2 }, u: { $set: { a: 2 } }, upsert: true },
      ],
    });
    expect(reply).toMatchObject({ ok: 1, n: 2, nModified: 1, upserted: [{ index: 1, _id: 2 }] });
  });

  it('upserts from a pipeline update', async () => {
    const coll = await fresh();
    await coll.updateOne({ _id: 1, base: 2 }, [{ $set: { doubled: { $multiply: ['$base', 2] } } }], { upsert: true });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, base: 2, doubled: 4 });
  });
});

describe('replace and delete', () => {
  it('replaceOne keeps _id and drops the old fields', async () => {
    const coll = await fresh([{ _id: 1, a: 1, b: 2 }]);
    expect(await coll.replaceOne({ _id: 1 }, { c: 3 })).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, c: 3 });
  });

  it('deleteOne and deleteMany', async () => {
    const coll = await fresh([{ _id: 1, a: 1 }, { _id: 2, a: 1 }, { _id: 3, a: 2 }]);
    expect((await coll.deleteOne({ a: 1 })).deletedCount).toBe(1);
    expect((await coll.deleteMany({ a: { $gte: 1 } })).deletedCount).toBe(2);
    expect(await coll.countDocuments()).toBe(0);
    expect((await coll.deleteMany({})).deletedCount).toBe(0);
  });

  it('refuses a delete limit other than 0 or 1', async () => {
    const coll = await fresh([{ _id: 1 }]);
    const err = await serverError(scratch.db.command({ delete: coll.collectionName, deletes: [{ q: {}, limit: 2 }] }));
    expect(err.code).toBe(9);
  });
});

describe('findAndModify', () => {
  it('returns the document before or after an update, projected and sorted', async () => {
    const coll = await fresh([{ _id: 1, n: 1, rank: 2 }, { _id: 2, n: 1, rank: 1 }]);
    const before = await coll.findOneAndUpdate({ n: 1 }, { $inc: { n: 1 } }, { sort: { rank: 1 } });
    expect(before).toEqual({ _id: 2, n: 1, rank: 1 });
    const after = await coll.findOneAndUpdate({ _id: 2 }, { $inc: { n: 1 } }, { returnDocument: 'after', projection: { n: 1 } });
    expect(after).toEqual({ _id: 2, n: 3 });
    expect(await coll.findOneAndUpdate({ _id: 9 }, { $set: { n: 1 } })).toBeNull();
  });

  it('upserts, replaces and deletes', async () => {
    const coll = await fresh([{ _id: 1, a: 1 }]);
    expect(await coll.findOneAndUpdate({ _id: 5 }, { $set: { a: 5 } }, { upsert: true, returnDocument: 'after' })).toEqual({ _id: 5, a: 5 });
    expect(await coll.findOneAndReplace({ _id: 1 }, { b: 2 }, { returnDocument: 'after' })).toEqual({ _id: 1, b: 2 });
    expect(await coll.findOneAndDelete({ _id: 1 })).toEqual({ _id: 1, b: 2 });
    expect(await coll.findOneAndDelete({ _id: 1 })).toBeNull();
    expect(await coll.find().toArray()).toEqual([{ _id: 5, a: 5 }]);
  });

  it('reports lastErrorObject as mongod does', async () => {
    const coll = await fresh([{ _id: 1, a: 1 }]);
    const updated = await scratch.db.command({ findAndModify: coll.collectionName, query: { _id: 1 }, update: { $set: { a: 2 } } });
    expect(updated.lastErrorObject).toEqual({ n: 1, updatedExisting: true });
    expect(updated.value).toEqual({ _id: 1, a: 1 });
    const upserted = await scratch.db.command({ findAndModify: coll.collectionName, query: { _id: 2 }, update: { $set: { a: 2 } }, upsert: true, new: true });
    expect(upserted.lastErrorObject).toEqual({ n: 1, updatedExisting: false, upserted: 2 });
    expect(upserted.value).toEqual({ _id: 2, a: 2 });
    const removed = await scratch.db.command({ findAndModify: coll.collectionName, query: { _id: 3 }, remove: true });
    expect(removed.lastErrorObject).toEqual({ n: 0 });
    expect(removed.value).toBeNull();
  });

  it('refuses contradictory options', async () => {
    const coll = await fresh();
    const both = await serverError(scratch.db.command({ findAndModify: coll.collectionName, query: {}, remove: true, update: { $set: { a: 1 } } }));
    expect(both.code).toBe(9);
    const neither = await serverError(scratch.db.command({ findAndModify: coll.collectionName, query: {} }));
    expect(neither.code).toBe(9);
  });

  it('fails with 11000 when an upsert clashes with a unique index', async () => {
    const coll = await fresh([{ _id: 1, u: 'x' }]);
    await coll.createIndex({ u: 1 }, { unique: true });
    const err = await serverError(coll.findOneAndUpdate({ _id: 2 }, { $set: { u: 'x' } }, { upsert: true }));
    expect(err.code).toBe(11000);
    expect(err.keyValue).toEqual({ u: 'x' });
  });
});

describe('count and distinct', () => {
  it('counts with a query, skip and limit', async () => {
    const coll = await fresh(Array.from({ length: 10 }, (_, i) => ({ _id: i, even: i % 2 === 0 })));
    expect(await coll.estimatedDocumentCount()).toBe(10);
    expect(await coll.countDocuments({ even: true })).toBe(5);
    expect(await coll.countDocuments({}, { skip: 8 })).toBe(2);
    expect(await coll.countDocuments({}, { limit: 3 })).toBe(3);
    const reply = await scratch.db.command({ count: coll.collectionName, query: { even: false }, skip: 1, limit: 2 });
    expect(reply).toMatchObject({ ok: 1, n: 2 });
    expect((await scratch.db.command({ count: 'missing_collection' })).n).toBe(0);
  });

  it('distinct values, unwinding arrays', async () => {
    const coll = await fresh([
      { _id: 1, tag: 'a', tags: ['x', 'y'], sub: { k: 1 } },
      { _id: 2, tag: 'b', tags: ['y', 'z'], sub: { k: 1 } },
      { _id: 3, tag: 'a', tags: [], sub: { k: 2 } },
    ]);
    expect((await coll.distinct('tag')).sort()).toEqual(['a', 'b']);
    expect((await coll.distinct('tags')).sort()).toEqual(['x', 'y', 'z']);
    expect((await coll.distinct('sub.k')).sort()).toEqual([1, 2]);
    expect(await coll.distinct('tag', { _id: { $gt: 1 } })).toHaveLength(2);
    expect(await coll.distinct('nothing')).toEqual([]);
  });
});

describe('bad arguments', () => {
  it('refuses unknown fields (40415), wrong types (14) and missing fields (40414)', async () => {
    expect(await serverError(scratch.db.command({ find: 'c', foo: 1 }))).toMatchObject({ code: 40415, codeName: 'Location40415' });
    expect(await serverError(scratch.db.command({ find: 'c', filter: 5 }))).toMatchObject({ code: 14, codeName: 'TypeMismatch' });
    expect(await serverError(scratch.db.command({ insert: 'c' }))).toMatchObject({ code: 40414, codeName: 'Location40414' });
    expect(await serverError(scratch.db.command({ update: 'c', updates: [{ q: {} }] }))).toMatchObject({ code: 40414 });
    expect(await serverError(scratch.db.command({ distinct: 'c' }))).toMatchObject({ code: 40414 });
    expect(await serverError(scratch.db.command({ insert: 'c', documents: [{}], bogus: true }))).toMatchObject({ code: 40415 });
  });

  it('refuses invalid namespaces (73) and collection names that are not strings (2)', async () => {
    expect(await serverError(scratch.db.command({ find: '' }))).toMatchObject({ code: 73, codeName: 'InvalidNamespace' });
    expect(await serverError(scratch.db.command({ find: 5 }))).toMatchObject({ code: 2, codeName: 'BadValue' });
    expect(await serverError(scratch.db.command({ insert: 'a$b', documents: [{}] }))).toMatchObject({ code: 73 });
  });

  it('refuses negative skip, bad sort orders and unknown query operators', async () => {
    expect((await serverError(scratch.db.command({ find: 'c', skip: -1 }))).code).toBe(51024);
    expect((await serverError(scratch.db.command({ find: 'c', sort: { a: 2 } }))).code).toBe(15975);
    const coll = await fresh([{ _id: 1 }]);
    expect(await serverError(coll.find({ a: { $foo: 1 } }).toArray())).toMatchObject({ code: 2, codeName: 'BadValue' });
    expect(await serverError(coll.find({ $foo: 1 } as Document).toArray())).toMatchObject({ code: 2, codeName: 'BadValue' });
  });

  it('refuses an empty write batch', async () => {
    expect((await serverError(scratch.db.command({ insert: 'c', documents: [] }))).code).toBe(16);
  });
});

describe('in a transaction', () => {
  it('runs CRUD commands on the transaction snapshot and commits them together', async () => {
    const coll = await fresh([{ _id: 1, n: 1 }]);
    const session = scratch.client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: 2, n: 2 }, { session });
      await coll.updateOne({ _id: 1 }, { $inc: { n: 10 } }, { session });
      expect(await coll.find({}, { session }).sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, n: 11 }, { _id: 2, n: 2 }]);
      expect(await coll.countDocuments({}, { session })).toBe(2);
      expect(await coll.distinct('n', {}, { session })).toHaveLength(2);
      expect(await coll.findOneAndDelete({ _id: 2 }, { session })).toEqual({ _id: 2, n: 2 });
      expect(await coll.find().toArray()).toEqual([{ _id: 1, n: 1 }]);
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    expect(await coll.find().toArray()).toEqual([{ _id: 1, n: 11 }]);
  });

  it('refuses count, and a write error aborts the transaction', async () => {
    const coll = await fresh([{ _id: 1 }]);
    const session = scratch.client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: 2 }, { session });
      const count = await serverError(scratch.db.command({ count: coll.collectionName }, { session }));
      expect(count).toMatchObject({ code: 263, codeName: 'OperationNotSupportedInTransaction' });
      await session.abortTransaction();
      session.startTransaction();
      const dup = await serverError(coll.insertOne({ _id: 1 }, { session }));
      expect(dup.code).toBe(11000);
      const commit = await serverError(session.commitTransaction());
      expect(commit.code).toBe(251);
    } finally {
      await session.endSession();
    }
    expect(await coll.find().toArray()).toEqual([{ _id: 1 }]);
  });
});
