/**
 * Updates with an aggregation pipeline (MongoDB 4.2+) as mongod runs them:
 * a dotted path in `$set`/`$addFields` sets a nested field, `$literal`
 * keeps a `$`-prefixed string literal (also in `let`), and `$replaceWith`
 * with `$setField` writes top-level names holding dots or a leading `$`
 * (MongoDB 5.0+).
 */
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('upipe');

describe('pipeline updates', () => {
  it('$set with a dotted path sets a nested field, creating the documents on the way', async () => {
    const coll = await scratch.fresh([{ _id: 1, a: { x: 1 } }]);
    await coll.updateOne({ _id: 1 }, [{ $set: { 'a.y': 2, 'b.c': 3 } }]);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, a: { x: 1, y: 2 }, b: { c: 3 } });
  });

  it('$addFields with a dotted path through an array sets the field in every element', async () => {
    const coll = await scratch.fresh([{ _id: 1, items: [{ q: 1 }, { q: 2 }] }]);
    await coll.updateOne({ _id: 1 }, [{ $addFields: { 'items.checked': true } }]);
    expect((await coll.findOne({ _id: 1 }))?.items).toEqual([{ q: 1, checked: true }, { q: 2, checked: true }]);
  });

  it('computes from the document: $add, $concat, $$NOW', async () => {
    const coll = await scratch.fresh([{ _id: 1, n: 4, s: 'a' }]);
    await coll.updateOne({ _id: 1 }, [{ $set: { n: { $add: ['$n', 1] }, s: { $concat: ['$s', 'b'] }, at: '$$NOW' } }]);
    const doc = await coll.findOne({ _id: 1 });
    expect(doc).toMatchObject({ n: 5, s: 'ab' });
    expect(doc?.at).toBeInstanceOf(Date);
  });

  it('$literal keeps a $-prefixed string, in the pipeline and in let', async () => {
    const coll = await scratch.fresh([{ _id: 1 }]);
    await coll.updateOne({ _id: 1 }, [{ $set: { price: { $literal: '$1.00' }, tag: '$$tag' } }], { let: { tag: { $literal: '$vip' } } });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, price: '$1.00', tag: '$vip' });
    const found = await coll.find({ $expr: { $eq: ['$tag', '$$t'] } }, { let: { t: { $literal: '$vip' } } }).toArray();
    expect(found).toHaveLength(1);
  });

  it('$unset and $project reshape the document; _id stays', async () => {
    const coll = await scratch.fresh([{ _id: 1, a: 1, b: 2, c: 3 }]);
    await coll.updateOne({ _id: 1 }, [{ $unset: 'a' }, { $project: { b: 1 } }]);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, b: 2 });
  });

  it('$replaceWith may not change _id (66)', async () => {
    const coll = await scratch.fresh([{ _id: 1, a: 1 }]);
    const error = await serverError(coll.updateOne({ _id: 1 }, [{ $replaceWith: { _id: 2, a: 1 } }]));
    expect(error.code).toBe(66);
  });
});

describe('field names with dots and dollars (MongoDB 5.0+)', () => {
  it('$replaceWith with $setField writes a top-level name holding a dot', async () => {
    const coll = await scratch.fresh([{ _id: 1 }]);
    await coll.updateOne({ _id: 1 }, [{ $replaceWith: { $setField: { field: 'price.usd', input: '$$ROOT', value: 5 } } }]);
    const doc = await coll.findOne({ _id: 1 });
    expect(doc?.['price.usd']).toBe(5);
    const read = await coll.aggregate([{ $project: { p: { $getField: 'price.usd' } } }]).toArray();
    expect(read).toEqual([{ _id: 1, p: 5 }]);
  });

  it('$setField with a $literal name writes a $-prefixed field, and $unsetField removes it', async () => {
    const coll = await scratch.fresh([{ _id: 1 }]);
    await coll.updateOne({ _id: 1 }, [{ $replaceWith: { $setField: { field: { $literal: '$price' }, input: '$$ROOT', value: 9 } } }]);
    expect((await coll.findOne({ _id: 1 }))?.$price).toBe(9);
    await coll.updateOne({ _id: 1 }, [{ $replaceWith: { $unsetField: { field: { $literal: '$price' }, input: '$$ROOT' } } }]);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1 });
  });
});
