import type { Collection } from 'mongodb';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../../lib/checkpoint/collection';

/** Just the two driver calls the store makes, over a Map. */
function fakeCollection() {
  const docs = new Map<string, CheckpointDocument>();
  const calls: unknown[][] = [];
  const collection = {
    async findOne(filter: { _id: string }, options: unknown) {
      calls.push(['findOne', filter, options]);
      return docs.get(filter._id) ?? null;
    },
    async updateOne(filter: { _id: string }, update: { $set: Omit<CheckpointDocument, '_id'> }, options: unknown) {
      calls.push(['updateOne', filter, options]);
      docs.set(filter._id, { _id: filter._id, ...update.$set });
      return { acknowledged: true };
    },
  };
  return { docs, calls, collection: collection as unknown as Collection<CheckpointDocument> };
}

describe('CollectionCheckpointStore', () => {
  it('upserts one document per key and loads its token', async () => {
    const { docs, calls, collection } = fakeCollection();
    const store = new CollectionCheckpointStore(collection);
    await expect(store.load('orders')).resolves.toBeUndefined();
    await store.save('orders', { _data: '1' });
    await store.save('orders', { _data: '2' });
    await expect(store.load('orders')).resolves.toEqual({ _data: '2' });
    expect(docs.size).toBe(1);
    expect(docs.get('orders')?.savedAt).toBeInstanceOf(Date);
    expect(calls.filter((c) => c[0] === 'updateOne').every((c) => (c[2] as { upsert: boolean }).upsert)).toBe(true);
  });

  it('rejects something that is not a driver collection, and bad keys', async () => {
    expect(() => new CollectionCheckpointStore({} as never)).toThrow(TypeError);
    const store = new CollectionCheckpointStore(fakeCollection().collection);
    await expect(store.save('', { _data: '1' })).rejects.toBeInstanceOf(TypeError);
    await expect(store.save('k', null)).rejects.toBeInstanceOf(TypeError);
  });
});
