/**
 * Read-only views (`create` with `viewOn` and `pipeline`) as mongod serves
 * them: find, aggregate, count and distinct read through the view's
 * pipeline, views stack, listCollections shows them as `type: 'view'`,
 * and writes, indexes and change streams on a view are refused with
 * CommandNotSupportedOnView (166).
 */
import type { Document } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('views');

const ORDERS = [
  { _id: 1, item: 'apple', qty: 5, status: 'A' },
  { _id: 2, item: 'pear', qty: 12, status: 'B' },
  { _id: 3, item: 'Apple', qty: 20, status: 'A' },
  { _id: 4, item: 'fig', qty: 1, status: 'A' },
];

/** A collection of orders and a view of the 'A' ones with a computed field. */
async function ordersAndView(): Promise<{ source: string; view: string }> {
  const source = (await scratch.fresh(ORDERS)).collectionName;
  const view = scratch.freshName();
  await scratch.db.createCollection(view, {
    viewOn: source,
    pipeline: [{ $match: { status: 'A' } }, { $addFields: { double: { $multiply: ['$qty', 2] } } }],
  });
  return { source, view };
}

describe('reading through a view', () => {
  it('find applies the view pipeline, then the filter, sort, skip, limit and projection', async () => {
    const { view } = await ordersAndView();
    const v = scratch.db.collection<Document>(view);
    expect(await v.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, item: 'apple', qty: 5, status: 'A', double: 10 },
      { _id: 3, item: 'Apple', qty: 20, status: 'A', double: 40 },
      { _id: 4, item: 'fig', qty: 1, status: 'A', double: 2 },
    ]);
    const shaped = await v.find({ double: { $gt: 2 } }, { projection: { item: 1, _id: 0 } }).sort({ qty: -1 }).skip(1).limit(1).toArray();
    expect(shaped).toEqual([{ item: 'apple' }]);
  });

  it('aggregate, count and distinct read the view', async () => {
    const { view } = await ordersAndView();
    const v = scratch.db.collection<Document>(view);
    expect(await v.aggregate([{ $group: { _id: null, total: { $sum: '$double' } } }]).toArray()).toEqual([{ _id: null, total: 52 }]);
    expect(await v.countDocuments({ qty: { $gte: 5 } })).toBe(2);
    expect(await v.estimatedDocumentCount()).toBe(3);
    expect((await v.distinct('item')).sort()).toEqual(['Apple', 'apple', 'fig']);
  });

  it('a view on a view runs both pipelines; a $lookup may read a view', async () => {
    const { source, view } = await ordersAndView();
    const top = scratch.freshName();
    await scratch.db.createCollection(top, { viewOn: view, pipeline: [{ $match: { double: { $gte: 10 } } }] });
    expect((await scratch.db.collection<Document>(top).find().toArray()).map((d) => d._id).sort()).toEqual([1, 3]);
    const joined = await scratch.db.collection(source).aggregate([
      { $match: { _id: 2 } },
      { $lookup: { from: top, pipeline: [{ $project: { _id: 1 } }], as: 'big' } },
    ]).toArray();
    expect(joined[0].big.map((d: Document) => d._id).sort()).toEqual([1, 3]);
  });

  it('the view sees later writes to its collection', async () => {
    const { source, view } = await ordersAndView();
    await scratch.db.collection(source).insertOne({ _id: 5, item: 'kiwi', qty: 3, status: 'A' } as Document);
    expect(await scratch.db.collection(view).countDocuments()).toBe(4);
  });

  it('a view\'s collation applies to its reads', async () => {
    const { source } = await ordersAndView();
    const view = scratch.freshName();
    await scratch.db.createCollection(view, { viewOn: source, pipeline: [], collation: { locale: 'en', strength: 2 } });
    expect(await scratch.db.collection(view).countDocuments({ item: 'APPLE' })).toBe(2);
  });
});

describe('the catalog', () => {
  it('listCollections shows a view with its definition', async () => {
    const { source, view } = await ordersAndView();
    const [info] = await scratch.db.listCollections({ name: view }).toArray();
    expect(info).toMatchObject({
      name: view,
      type: 'view',
      options: { viewOn: source, pipeline: [{ $match: { status: 'A' } }, { $addFields: { double: { $multiply: ['$qty', 2] } } }] },
      info: { readOnly: true },
    });
    const names = await scratch.db.listCollections({ name: { $in: [source, view] } }, { nameOnly: true }).toArray();
    expect(names.map((c) => [c.name, c.type]).sort()).toEqual([[source, 'collection'], [view, 'view']].sort());
  });

  it('drop removes a view; creating one over an existing name is NamespaceExists (48)', async () => {
    const { source, view } = await ordersAndView();
    expect((await serverError(scratch.db.createCollection(view, { viewOn: source, pipeline: [] }))).code).toBe(48);
    expect(await scratch.db.collection(view).drop()).toBe(true);
    expect(await scratch.db.listCollections({ name: view }).toArray()).toEqual([]);
    expect(await scratch.db.collection(source).countDocuments()).toBe(4);
  });

  it('collMod changes a view\'s pipeline', async () => {
    const { source, view } = await ordersAndView();
    await scratch.db.command({ collMod: view, viewOn: source, pipeline: [{ $match: { status: 'B' } }] });
    expect((await scratch.db.collection(view).find().toArray()).map((d) => d._id)).toEqual([2]);
  });

  it('a cycle of views is refused (GraphContainsCycle, 5)', async () => {
    const a = scratch.freshName();
    const b = scratch.freshName();
    await scratch.db.createCollection(a, { viewOn: b, pipeline: [] });
    const error = await serverError(scratch.db.createCollection(b, { viewOn: a, pipeline: [] }));
    expect(error).toMatchObject({ code: 5, codeName: 'GraphContainsCycle' });
  });
});

describe('a view is read-only', () => {
  it('refuses inserts, updates, deletes and findAndModify with 166', async () => {
    const { view } = await ordersAndView();
    const v = scratch.db.collection<{ _id: number; qty?: number }>(view);
    for (const write of [
      () => v.insertOne({ _id: 9 }),
      () => v.updateOne({ _id: 1 }, { $set: { qty: 0 } }),
      () => v.deleteMany({}),
      () => v.findOneAndUpdate({ _id: 1 }, { $set: { qty: 0 } }),
    ]) {
      expect((await serverError(write())).code).toBe(166);
    }
  });

  it('refuses indexes and change streams with 166', async () => {
    const { view } = await ordersAndView();
    const v = scratch.db.collection<Document>(view);
    expect(await serverError(v.createIndex({ qty: 1 }))).toMatchObject({ code: 166, codeName: 'CommandNotSupportedOnView' });
    const stream = v.watch();
    try {
      expect((await serverError(stream.tryNext())).code).toBe(166);
    } finally {
      await stream.close();
    }
  });
});
