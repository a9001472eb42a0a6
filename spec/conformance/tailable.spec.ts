/**
 * Capped collections and tailable cursors as mongod serves them: the
 * oldest documents go when `max` (or `size`) is exceeded; a tailable cursor
 * stays open at the end and returns later inserts; with `awaitData` an
 * empty getMore waits `maxAwaitTimeMS` and answers an empty batch, without
 * it the getMore answers at once (and may not carry a maxTimeMS); a cursor
 * whose position was rolled over fails with CappedPositionLost (136).
 */
import type { Document, FindCursor } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('tail');

async function capped(max: number, docs: Document[] = []) {
  const name = scratch.freshName();
  const coll = await scratch.db.createCollection<{ _id: number }>(name, { capped: true, size: 64 * 1024, max });
  for (const doc of docs) await coll.insertOne(doc as { _id: number });
  return coll;
}

const ids = (docs: Document[]) => docs.map((d) => d._id);

describe('capped collections', () => {
  it('keep the newest max documents, in insertion order', async () => {
    const coll = await capped(3, [{ _id: 5 }, { _id: 1 }, { _id: 4 }, { _id: 2 }, { _id: 3 }]);
    expect(ids(await coll.find().toArray())).toEqual([4, 2, 3]);
    expect(ids(await coll.find().sort({ $natural: -1 }).toArray())).toEqual([3, 2, 4]);
  });

  it('a tailable cursor on a collection that is not capped is refused (2)', async () => {
    const coll = await scratch.fresh([{ _id: 1 }]);
    expect((await serverError(coll.find({}, { tailable: true }).toArray())).code).toBe(2);
  });
});

describe('tailable cursors', () => {
  let cursor: FindCursor | undefined;
  afterEach(async () => {
    await cursor?.close();
    cursor = undefined;
  });

  it('return the documents there, then the ones inserted later', async () => {
    const coll = await capped(100, [{ _id: 1 }, { _id: 2 }]);
    cursor = coll.find({}, { tailable: true, awaitData: true, maxAwaitTimeMS: 2000 });
    expect((await cursor.next())?._id).toBe(1);
    expect((await cursor.next())?._id).toBe(2);
    const next = cursor.next();
    await coll.insertOne({ _id: 3 });
    expect((await next)?._id).toBe(3);
  });

  it('with awaitData an empty getMore waits maxAwaitTimeMS, answers nothing, and the cursor stays open', async () => {
    const coll = await capped(100, [{ _id: 1 }]);
    cursor = coll.find({}, { tailable: true, awaitData: true, maxAwaitTimeMS: 300 });
    await cursor.next();
    const started = Date.now();
    expect(await cursor.tryNext()).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(cursor.closed).toBe(false);
    await coll.insertOne({ _id: 2 });
    expect((await cursor.tryNext())?._id).toBe(2);
  });

  it('without awaitData an empty getMore answers at once', async () => {
    const coll = await capped(100, [{ _id: 1 }]);
    cursor = coll.find({}, { tailable: true });
    await cursor.next();
    const started = Date.now();
    expect(await cursor.tryNext()).toBeNull();
    expect(Date.now() - started).toBeLessThan(250);
  });

  it('only the matching documents come back', async () => {
    const coll = await capped(100, [{ _id: 1 }, { _id: 2 }]);
    cursor = coll.find({ _id: { $gt: 1 } }, { tailable: true });
    expect((await cursor.next())?._id).toBe(2);
    await coll.insertMany([{ _id: 3 }, { _id: 0 }, { _id: 4 }]);
    expect((await cursor.next())?._id).toBe(3);
    expect((await cursor.next())?._id).toBe(4);
  });

  it('a getMore whose position was rolled over fails with CappedPositionLost (136)', async () => {
    const coll = await capped(2, [{ _id: 1 }, { _id: 2 }]);
    cursor = coll.find({}, { tailable: true, batchSize: 2 });
    await cursor.next();
    await cursor.next();
    await coll.insertMany([{ _id: 3 }, { _id: 4 }, { _id: 5 }]);
    expect((await serverError(cursor.tryNext())).code).toBe(136);
  });

  it('a getMore of a cursor without awaitData may not name maxTimeMS (2)', async () => {
    const coll = await capped(100, [{ _id: 1 }]);
    const reply = await scratch.db.command({ find: coll.collectionName, tailable: true, batchSize: 1 });
    const id = reply.cursor.id;
    try {
      const error = await serverError(scratch.db.command({ getMore: id, collection: coll.collectionName, maxTimeMS: 100 }));
      expect(error.code).toBe(2);
    } finally {
      await scratch.db.command({ killCursors: coll.collectionName, cursors: [id] });
    }
  });
});
