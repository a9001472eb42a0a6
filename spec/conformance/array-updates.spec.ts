/**
 * Array-element updates as mongod applies them: the positional `$` (the
 * element the query matched), `$[]` (every element), filtered `$[<id>]`
 * with `arrayFilters`, indexes past the end, and the array operators'
 * modifiers.
 */
import type { Collection, Document, UpdateFilter } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('arr');

/** Documents with a numeric `_id` and any other fields (array operators on any of them). */
type Doc = Document & { _id: number };
/** An update document on fields the driver's types do not know as arrays. */
const update = (u: Document) => u as UpdateFilter<Doc>;

async function fresh(docs: Doc[]): Promise<Collection<Doc>> {
  const coll = scratch.db.collection<Doc>(scratch.freshName());
  await coll.insertMany(docs);
  return coll;
}

const grades = () => fresh([{ _id: 1, grades: [{ g: 80, n: 1 }, { g: 85, n: 2 }, { g: 90, n: 3 }], scores: [70, 85, 95] }]);

describe('the positional $', () => {
  it('updates the element the query matched by a field of it', async () => {
    const coll = await grades();
    await coll.updateOne({ _id: 1, 'grades.g': 85 }, { $set: { 'grades.$.n': 20 } });
    expect((await coll.findOne({ _id: 1 }))?.grades).toEqual([{ g: 80, n: 1 }, { g: 85, n: 20 }, { g: 90, n: 3 }]);
  });

  it('follows $elemMatch and scalar arrays', async () => {
    const coll = await grades();
    await coll.updateOne({ grades: { $elemMatch: { g: { $gte: 85 }, n: 3 } } }, { $inc: { 'grades.$.g': 1 } });
    await coll.updateOne({ scores: { $gt: 80 } }, { $set: { 'scores.$': 86 } });
    const doc = await coll.findOne({ _id: 1 });
    expect(doc?.grades[2]).toEqual({ g: 91, n: 3 });
    expect(doc?.scores).toEqual([70, 86, 95]);
  });

  it('is an error when the query did not match an element (2), also for an upsert', async () => {
    const coll = await grades();
    expect((await serverError(coll.updateOne({ _id: 1 }, { $set: { 'grades.$.n': 0 } }))).code).toBe(2);
    expect((await serverError(coll.updateOne({ _id: 2 }, { $set: { 'grades.$.n': 0 } }, { upsert: true }))).code).toBe(2);
  });
});

describe('$[] and $[<id>]', () => {
  it('$[] updates every element, also nested', async () => {
    const coll = await fresh([{ _id: 1, a: [1, 2, 3], m: [[1, 2], [3]] }]);
    await coll.updateOne({ _id: 1 }, { $inc: { 'a.$[]': 10, 'm.$[].$[]': 100 } });
    const doc = await coll.findOne({ _id: 1 });
    expect(doc?.a).toEqual([11, 12, 13]);
    expect(doc?.m).toEqual([[101, 102], [103]]);
  });

  it('$[<id>] updates the elements its array filter accepts', async () => {
    const coll = await grades();
    await coll.updateOne({ _id: 1 }, { $set: { 'grades.$[high].top': true, 'scores.$[s]': 0 } }, {
      arrayFilters: [{ 'high.g': { $gte: 85 } }, { s: { $lt: 80 } }],
    });
    const doc = await coll.findOne({ _id: 1 });
    expect(doc?.grades.map((g: { top?: boolean }) => g.top ?? false)).toEqual([false, true, true]);
    expect(doc?.scores).toEqual([0, 85, 95]);
  });

  it('identifiers nest: one filter per level', async () => {
    const coll = await fresh([{ _id: 1, rows: [{ k: 'a', cells: [1, 5, 9] }, { k: 'b', cells: [5, 6] }] }]);
    await coll.updateOne({ _id: 1 }, { $set: { 'rows.$[r].cells.$[c]': 0 } }, { arrayFilters: [{ 'r.k': 'b' }, { c: { $gte: 5 } }] });
    expect((await coll.findOne({ _id: 1 }))?.rows).toEqual([{ k: 'a', cells: [1, 5, 9] }, { k: 'b', cells: [0, 0] }]);
  });

  it('refuses an unused array filter (9), an identifier without one (2), and $[] on a missing array (2)', async () => {
    const coll = await grades();
    const unused = await serverError(coll.updateOne({ _id: 1 }, { $set: { x: 1 } }, { arrayFilters: [{ y: 1 }] }));
    expect(unused.code).toBe(9);
    expect((await serverError(coll.updateOne({ _id: 1 }, { $set: { 'scores.$[z]': 1 } }))).code).toBe(2);
    expect((await serverError(coll.updateOne({ _id: 1 }, { $set: { 'nothing.$[]': 1 } }))).code).toBe(2);
  });
});

describe('indexes and array operators', () => {
  it('an index past the end pads with nulls; $unset of an element leaves a null', async () => {
    const coll = await fresh([{ _id: 1, a: [1, 2, 3] }]);
    await coll.updateOne({ _id: 1 }, { $set: { 'a.5': 6 } });
    await coll.updateOne({ _id: 1 }, { $unset: { 'a.0': '' } });
    expect((await coll.findOne({ _id: 1 }))?.a).toEqual([null, 2, 3, null, null, 6]);
  });

  it('$push with $each, $position, $sort and $slice', async () => {
    const coll = await fresh([{ _id: 1, a: [{ s: 3 }, { s: 1 }], b: [1, 2] }]);
    await coll.updateOne({ _id: 1 }, update({
      $push: { a: { $each: [{ s: 2 }, { s: 5 }], $sort: { s: -1 }, $slice: 3 }, b: { $each: [9, 8], $position: 1 } },
    }));
    const doc = await coll.findOne({ _id: 1 });
    expect(doc?.a).toEqual([{ s: 5 }, { s: 3 }, { s: 2 }]);
    expect(doc?.b).toEqual([1, 9, 8, 2]);
  });

  it('$pull by condition, $pullAll by value, $pop, $addToSet with $each', async () => {
    const coll = await fresh([{ _id: 1, a: [1, 5, 8, 12], d: [{ k: 1, v: 'x' }, { k: 2, v: 'y' }], p: [1, 2, 2, 3], q: [1, 2, 3], s: ['a'] }]);
    await coll.updateOne({ _id: 1 }, update({
      $pull: { a: { $gte: 8 }, d: { k: 2 } },
      $pullAll: { p: [2, 3] },
      $pop: { q: -1 },
      $addToSet: { s: { $each: ['a', 'b', 'b'] } },
    }));
    const doc = await coll.findOne({ _id: 1 });
    expect(doc).toMatchObject({ a: [1, 5], d: [{ k: 1, v: 'x' }], p: [1], q: [2, 3], s: ['a', 'b'] });
  });

  it('an array operator on a non-array is an error', async () => {
    const coll = await fresh([{ _id: 1, n: 1 }]);
    expect((await serverError(coll.updateOne({ _id: 1 }, update({ $push: { n: 2 } })))).code).toBe(2);
    expect((await serverError(coll.updateOne({ _id: 1 }, { $pop: { n: 1 } }))).code).toBe(14);
  });
});
