/**
 * The aggregate command through the stock driver, as mongod 8.0 runs it:
 * common stages, `$lookup`/`$unionWith` across collections of a database,
 * cursors and batches, collectionless `$documents`, `$out` and `$merge`,
 * `$currentOp` with idle cursors, and pipeline errors.
 */
import { type Document } from 'mongodb';
import { scratchDatabase } from '../support/scratch';
import { serverError } from '../support/server-error';

const scratch = scratchDatabase('agg');

const { fresh } = scratch;

const orders = [
  { _id: 1, customer: 'ann', items: ['pen', 'ink'], total: 12 },
  { _id: 2, customer: 'bob', items: ['pad'], total: 5 },
  { _id: 3, customer: 'ann', items: [], total: 30 },
];

describe('stages', () => {
  it('$match, $group, $sort and $project', async () => {
    const coll = await fresh(orders);
    const result = await coll.aggregate([
      { $match: { total: { $gte: 5 } } },
      { $group: { _id: '$customer', spent: { $sum: '$total' }, orders: { $sum: 1 } } },
      { $sort: { spent: -1 } },
      { $project: { _id: 0, customer: '$_id', spent: 1, orders: 1 } },
    ]).toArray();
    expect(result).toEqual([{ spent: 42, orders: 2, customer: 'ann' }, { spent: 5, orders: 1, customer: 'bob' }]);
  });

  it('$unwind, $addFields, $skip, $limit and $count', async () => {
    const coll = await fresh(orders);
    const items = await coll.aggregate([{ $unwind: '$items' }, { $addFields: { upper: { $toUpper: '$items' } } }, { $sort: { items: 1 } }])
      .toArray();
    expect(items.map((d) => d.upper)).toEqual(['INK', 'PAD', 'PEN']);
    expect(await coll.aggregate([{ $sort: { _id: 1 } }, { $skip: 1 }, { $limit: 1 }]).toArray()).toEqual([orders[1]]);
    expect(await coll.aggregate([{ $match: { customer: 'ann' } }, { $count: 'n' }]).toArray()).toEqual([{ n: 2 }]);
  });

  it('$lookup and $unionWith read other collections of the database', async () => {
    const coll = await fresh(orders);
    const customers = await fresh([{ _id: 'ann', city: 'Oslo' }, { _id: 'bob', city: 'Rome' }]);
    const joined = await coll.aggregate([
      { $match: { _id: 2 } },
      { $lookup: { from: customers.collectionName, localField: 'customer', foreignField: '_id', as: 'who' } },
    ]).toArray();
    expect(joined[0].who).toEqual([{ _id: 'bob', city: 'Rome' }]);
    const union = await customers.aggregate([{ $unionWith: { coll: coll.collectionName, pipeline: [{ $match: { _id: 3 } }] } }]).toArray();
    expect(union.map((d) => d._id)).toEqual(['ann', 'bob', 3]);
  });

  it('uses let variables', async () => {
    const coll = await fresh(orders);
    const result = await coll.aggregate([{ $match: { $expr: { $gt: ['$total', '$$min'] } } }, { $sort: { _id: 1 } }], { let: { min: 10 } })
      .toArray();
    expect(result.map((d) => d._id)).toEqual([1, 3]);
  });

  it('counts documents as countDocuments does', async () => {
    const coll = await fresh(orders);
    expect(await coll.countDocuments({ customer: 'ann' })).toBe(2);
    expect(await (await fresh()).countDocuments()).toBe(0);
  });
});

describe('cursors', () => {
  it('returns batches of the requested size through getMore', async () => {
    const coll = await fresh(Array.from({ length: 25 }, (_, i) => ({ _id: i })));
    const first = await scratch.db.command({ aggregate: coll.collectionName, pipeline: [{ $sort: { _id: 1 } }], cursor: { batchSize: 10 } });
    expect(first.cursor.firstBatch).toHaveLength(10);
    expect(first.cursor.ns).toBe(`${scratch.db.databaseName}.${coll.collectionName}`);
    const more = await scratch.db.command({ getMore: first.cursor.id, collection: coll.collectionName, batchSize: 10 });
    expect(more.cursor.nextBatch.map((d: Document) => d._id)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const rest = await scratch.db.command({ getMore: first.cursor.id, collection: coll.collectionName });
    expect(rest.cursor.nextBatch).toHaveLength(5);
    expect(rest.cursor.id.toString()).toBe('0');
    expect(await coll.aggregate([{ $match: {} }], { batchSize: 3 }).toArray()).toHaveLength(25);
  });

  it('runs collectionless pipelines with $documents', async () => {
    const result = await scratch.db.aggregate([{ $documents: [{ x: 1 }, { x: 2 }] }, { $match: { x: 2 } }]).toArray();
    expect(result).toEqual([{ x: 2 }]);
  });
});

describe('$out and $merge', () => {
  it('$out replaces the target collection with the results', async () => {
    const coll = await fresh(orders);
    const target = await fresh([{ _id: 'stale' }]);
    const out = await coll.aggregate([{ $match: { customer: 'ann' } }, { $project: { total: 1 } }, { $out: target.collectionName }]).toArray();
    expect(out).toEqual([]);
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, total: 12 }, { _id: 3, total: 30 }]);
  });

  it('$merge merges into, replaces, keeps or inserts by _id', async () => {
    const coll = await fresh([{ _id: 1, a: 'new' }, { _id: 2, a: 'new' }]);
    const target = await fresh([{ _id: 1, a: 'old', b: 'kept' }]);
    await coll.aggregate([{ $merge: { into: target.collectionName } }]).toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, a: 'new', b: 'kept' }, { _id: 2, a: 'new' }]);
    await coll.aggregate([{ $set: { a: 'newer' } }, { $merge: { into: target.collectionName, whenMatched: 'replace' } }]).toArray();
    expect(await target.findOne({ _id: 1 })).toEqual({ _id: 1, a: 'newer' });
    await coll.aggregate([{ $set: { a: 'ignored' } }, { $merge: { into: target.collectionName, whenMatched: 'keepExisting', whenNotMatched: 'discard' } }])
      .toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, a: 'newer' }, { _id: 2, a: 'newer' }]);
  });
});

describe('$currentOp', () => {
  it('lists an idle cursor until it is closed', async () => {
    const coll = await fresh(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
    const cursor = coll.find({}, { batchSize: 2 });
    await cursor.next();
    const ns = `${scratch.db.databaseName}.${coll.collectionName}`;
    const idle = () => scratch.client.db('admin').aggregate([
      { $currentOp: { idleCursors: true } },
      { $match: { type: 'idleCursor', ns } },
    ], { promoteLongs: false }).toArray();
    const listed = await idle();
    expect(listed).toHaveLength(1);
    expect(listed[0].cursor.cursorId.toString()).toBe(cursor.id!.toString());
    await cursor.close();
    expect(await idle()).toEqual([]);
  });

  it("reports a cursor whose getMore is waiting as that getMore, not as idle; idle again once it answers", async () => {
    const coll = await fresh([]);
    const ns = `${scratch.db.databaseName}.${coll.collectionName}`;
    const stream = coll.watch([], { maxAwaitTimeMS: 1500 });
    try {
      expect(await stream.tryNext()).toBeNull();
      const current = () => scratch.client.db('admin').aggregate([
        { $currentOp: { idleCursors: true } },
        { $match: { ns } },
      ]).toArray();
      expect((await current()).map((op) => op.type)).toEqual(['idleCursor']);
      const waiting = stream.tryNext();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const during = await current();
      expect(during).toHaveLength(1);
      expect(during[0]).toMatchObject({ type: 'op', op: 'getmore', cursor: { tailable: true, awaitData: true } });
      expect(await waiting).toBeNull();
      const after = await current();
      expect(after).toHaveLength(1);
      expect(after[0].type).toBe('idleCursor');
    } finally {
      await stream.close();
    }
  });

  it('must run on admin with {aggregate: 1}', async () => {
    const err = await serverError(scratch.db.aggregate([{ $currentOp: {} }]).toArray());
    expect(err.code).toBe(73);
  });
});

describe('errors', () => {
  it('refuses unknown stages and misplaced $out', async () => {
    const coll = await fresh(orders);
    expect(await serverError(coll.aggregate([{ $nope: {} }]).toArray())).toMatchObject({ code: 40324, codeName: 'Location40324' });
    expect((await serverError(coll.aggregate([{ $out: 'x' }, { $match: {} }]).toArray())).code).toBe(40601);
    expect((await serverError(coll.aggregate([{ $match: {} }, { $changeStream: {} }]).toArray())).code).toBe(40602);
  });

  it('refuses a missing cursor option, a missing pipeline and multi-field stages', async () => {
    const coll = await fresh();
    expect((await serverError(scratch.db.command({ aggregate: coll.collectionName, pipeline: [] }))).code).toBe(9);
    expect((await serverError(scratch.db.command({ aggregate: coll.collectionName, cursor: {} }))).code).toBe(40414);
    expect((await serverError(scratch.db.command({ aggregate: coll.collectionName, pipeline: [{ $match: {}, $limit: 1 }], cursor: {} }))).code)
      .toBe(40323);
    expect((await serverError(scratch.db.command({ aggregate: coll.collectionName, pipeline: {}, cursor: {} }))).code).toBe(14);
  });

  it('refuses unknown expressions', async () => {
    const coll = await fresh(orders);
    expect((await serverError(coll.aggregate([{ $project: { x: { $noSuchOperator: 1 } } }]).toArray())).code).toBe(168);
  });
});
