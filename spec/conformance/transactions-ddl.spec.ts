/**
 * Transactions that create what they write to (MongoDB 4.4+): `create` and
 * `createIndexes` on a new collection inside the transaction, invisible to
 * others until commit and gone after abort; and the shape an exactly-once
 * projection takes: a handler's projection write and a checkpoint upsert
 * into another (possibly new) collection, committed together or not at all.
 */
import type { ClientSession, Document } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase, type AnyIdDoc } from '../support/scratch';

const scratch = scratchDatabase('txddl');

async function inTransaction<T>(body: (session: ClientSession) => Promise<T>): Promise<T> {
  const session = scratch.client.startSession();
  try {
    session.startTransaction();
    const result = await body(session);
    await session.commitTransaction();
    return result;
  } catch (err) {
    if (session.inTransaction()) await session.abortTransaction();
    throw err;
  } finally {
    await session.endSession();
  }
}

const names = async () => (await scratch.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);

describe('DDL inside a transaction', () => {
  it('creates a collection and writes to it; others see it only after commit', async () => {
    const name = scratch.freshName();
    await inTransaction(async (session) => {
      await scratch.db.createCollection(name, { session });
      await scratch.db.collection<AnyIdDoc>(name).insertOne({ _id: 1 }, { session });
      expect(await names()).not.toContain(name);
    });
    expect(await names()).toContain(name);
    expect(await scratch.db.collection(name).find().toArray()).toEqual([{ _id: 1 }]);
  });

  it('builds an index on a collection it creates, enforced inside the transaction and kept after commit', async () => {
    const name = scratch.freshName();
    const coll = scratch.db.collection<AnyIdDoc>(name);
    const error = await serverError(inTransaction(async (session) => {
      await coll.createIndex({ key: 1 }, { unique: true, name: 'key_unique', session });
      await coll.insertOne({ _id: 1, key: 'k' }, { session });
      await coll.insertOne({ _id: 2, key: 'k' }, { session });
    }));
    expect(error.code).toBe(11000);
    expect(await names()).not.toContain(name);

    await inTransaction(async (session) => {
      await coll.createIndex({ key: 1 }, { unique: true, name: 'key_unique', session });
      await coll.insertOne({ _id: 1, key: 'k' }, { session });
    });
    const indexes = await coll.listIndexes().toArray();
    expect(indexes.map((i) => i.name)).toEqual(['_id_', 'key_unique']);
    expect((await serverError(coll.insertOne({ _id: 2, key: 'k' }))).code).toBe(11000);
  });

  it('leaves nothing behind on abort', async () => {
    const name = scratch.freshName();
    const session = scratch.client.startSession();
    try {
      session.startTransaction();
      await scratch.db.createCollection(name, { session });
      await scratch.db.collection<AnyIdDoc>(name).insertOne({ _id: 1 }, { session });
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    expect(await names()).not.toContain(name);
  });

  it('refuses an index on a collection that existed before the transaction', async () => {
    const coll = await scratch.fresh([{ _id: 1 }]);
    const error = await serverError(inTransaction((session) => coll.createIndex({ a: 1 }, { session })));
    expect(error.code).toBe(263);
    expect(error.codeName).toBe('OperationNotSupportedInTransaction');
  });

  it('refuses to create a collection that exists', async () => {
    const coll = await scratch.fresh([{ _id: 1 }]);
    const error = await serverError(inTransaction((session) => scratch.db.createCollection(coll.collectionName, { session })));
    expect(error.code).toBe(48);
  });
});

describe('a projection and its checkpoint in one transaction', () => {
  it('commits the handler’s writes and the checkpoint upsert together, into a checkpoint collection created on the way', async () => {
    const projection = await scratch.fresh([{ _id: 'acct', balance: 10 }]);
    const checkpoints = scratch.db.collection<AnyIdDoc>(scratch.freshName());
    await inTransaction(async (session) => {
      await projection.updateOne({ _id: 'acct' }, { $inc: { balance: 5 } }, { session });
      await projection.insertOne({ _id: 'acct2', balance: 1 }, { session });
      await checkpoints.updateOne({ _id: 'billing' }, { $set: { token: { _data: 'T1' }, lease: 1 } }, { upsert: true, session });
      // Not visible outside yet.
      expect(await projection.findOne({ _id: 'acct' })).toEqual({ _id: 'acct', balance: 10 });
      expect(await checkpoints.findOne({ _id: 'billing' })).toBeNull();
    });
    expect(await projection.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'acct', balance: 15 },
      { _id: 'acct2', balance: 1 },
    ]);
    expect(await checkpoints.findOne({ _id: 'billing' })).toEqual({ _id: 'billing', token: { _data: 'T1' }, lease: 1 });
  });

  it('keeps neither when the checkpoint write fails (a fenced lease), so the event is applied again later', async () => {
    const projection = await scratch.fresh([{ _id: 'acct', balance: 10 }]);
    const checkpoints = await scratch.fresh([{ _id: 'billing', lease: 2 }]);
    const error = await serverError(inTransaction(async (session) => {
      await projection.updateOne({ _id: 'acct' }, { $inc: { balance: 5 } }, { session });
      // A stale owner (lease 1) cannot update the checkpoint a newer owner holds; its upsert clashes.
      await checkpoints.updateOne({ lease: 1 } as Document, { $set: { _id: 'billing', token: 'T2' } }, { upsert: true, session });
    }));
    expect(error.code).toBe(11000);
    expect(await projection.findOne({ _id: 'acct' })).toEqual({ _id: 'acct', balance: 10 });
    expect(await checkpoints.findOne({ _id: 'billing' })).toEqual({ _id: 'billing', lease: 2 });
  });
});
