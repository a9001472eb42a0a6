/**
 * Clustered collections (`create` with `clusteredIndex`, MongoDB 5.3+) as
 * mongod creates them: ordered by `_id`, whose index is the clustered index
 * (listed as unique and clustered, and not droppable), and the option
 * shown by listCollections; a key other than `{ _id: 1 }` or a non-unique
 * clustered index is refused.
 */
import type { Document } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('clus');

describe('clustered collections', () => {
  it('are created with the clustered index as their _id index', async () => {
    const name = scratch.freshName();
    await scratch.db.createCollection(name, { clusteredIndex: { key: { _id: 1 }, unique: true } });
    const [info] = await scratch.db.listCollections({ name }, { nameOnly: false }).toArray();
    expect((info as Document).options).toMatchObject({ clusteredIndex: { key: { _id: 1 }, unique: true } });
    const indexes = await scratch.db.collection(name).listIndexes().toArray();
    expect(indexes).toEqual([expect.objectContaining({ key: { _id: 1 }, unique: true, clustered: true })]);
  });

  it('hold documents like any collection, with unique _ids', async () => {
    const name = scratch.freshName();
    await scratch.db.createCollection(name, { clusteredIndex: { key: { _id: 1 }, unique: true, name: 'by_id' } });
    const coll = scratch.db.collection<{ _id: number; v?: string }>(name);
    await coll.insertMany([{ _id: 2, v: 'b' }, { _id: 1, v: 'a' }]);
    expect(await coll.find({ _id: { $gte: 1 } }).sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }]);
    expect((await serverError(coll.insertOne({ _id: 1 }))).code).toBe(11000);
    expect((await coll.listIndexes().toArray())[0].name).toBe('by_id');
  });

  it('refuse to drop the clustered index', async () => {
    const name = scratch.freshName();
    await scratch.db.createCollection(name, { clusteredIndex: { key: { _id: 1 }, unique: true } });
    const [index] = await scratch.db.collection(name).listIndexes().toArray();
    await serverError(scratch.db.collection(name).dropIndex(index.name as string));
  });

  it('refuse a key other than { _id: 1 } and a clustered index that is not unique', async () => {
    await serverError(scratch.db.command({ create: scratch.freshName(), clusteredIndex: { key: { a: 1 }, unique: true } }));
    await serverError(scratch.db.command({ create: scratch.freshName(), clusteredIndex: { key: { _id: 1 }, unique: false } }));
  });
});
