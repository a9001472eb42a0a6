/**
 * CollectionCheckpointStore on the run's backend: the CheckpointStore
 * contract (every call one compare-and-set, expiry on the server's clock),
 * a corrupt document told apart from a missing one, and a save that joins
 * a transaction through its session.
 */
import type { Collection, MongoClient } from 'mongodb';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../lib/checkpoint/collection';
import { CheckpointCorruptError } from '../../lib/errors';
import { driverClient, uniqueDbName } from '../support/backend';
import { storeContract } from '../unit/checkpoint/contract';

let client: MongoClient;
const dbNames: string[] = [];

beforeAll(async () => {
  client = driverClient();
  await client.connect();
});

afterAll(async () => {
  for (const name of dbNames) await client.db(name).dropDatabase();
  await client.close();
});

function collection(): Collection<CheckpointDocument> {
  const name = uniqueDbName('ckptstore');
  dbNames.push(name);
  return client.db(name).collection<CheckpointDocument>('checkpoints', { writeConcern: { w: 'majority' } });
}

storeContract('CollectionCheckpointStore', {
  ttlMS: 300,
  make: async () => ({ store: new CollectionCheckpointStore(collection()), teardown: async () => {} }),
});

describe('CollectionCheckpointStore', () => {
  it.each([
    ['a null token', { token: null, savedAt: new Date(), fence: 1 }],
    ['a saved document without its token', { savedAt: new Date(), fence: 1 }],
    ['a bare document', {}],
  ])('reports %s as CheckpointCorruptError, never as "no checkpoint"', async (_what, fields) => {
    const checkpoints = collection();
    await checkpoints.insertOne({ _id: 'k', ...(fields as Partial<CheckpointDocument>) });
    await expect(new CollectionCheckpointStore(checkpoints).load('k')).rejects.toBeInstanceOf(CheckpointCorruptError);
  });

  it('keeps everything about a key in one document: position, fence, holder and expiry', async () => {
    const checkpoints = collection();
    const store = new CollectionCheckpointStore(checkpoints);
    const lease = await store.acquire('orders', { holder: 'host:1:ab', ttlMS: 5_000 });
    await store.save(lease!, { _data: '0A' });
    const docs = await checkpoints.find().toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ _id: 'orders', token: { _data: '0A' }, fence: 1, holder: 'host:1:ab' });
    expect(docs[0].expiresAt).toBeInstanceOf(Date);
    expect(docs[0].savedAt).toBeInstanceOf(Date);
  });

  it('a holder whose name starts with "$" is stored as given, not read as a field path', async () => {
    const checkpoints = collection();
    const store = new CollectionCheckpointStore(checkpoints);
    const lease = await store.acquire('k', { holder: '$fence', ttlMS: 5_000 });
    expect(lease).toMatchObject({ holder: '$fence', fence: 1 });
    expect((await checkpoints.findOne({ _id: 'k' }))?.holder).toBe('$fence');
    await expect(store.acquire('k', { holder: 'other', ttlMS: 5_000 })).resolves.toBeUndefined();
  });

  it('two holders racing for a new key: exactly one gets it', async () => {
    const store = new CollectionCheckpointStore(collection());
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((holder) => store.acquire('race', { holder, ttlMS: 5_000 })));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
  });

  it('saves inside a transaction through its session: nothing is stored if it aborts', async () => {
    const checkpoints = collection();
    await client.db(checkpoints.dbName).createCollection('checkpoints');
    const store = new CollectionCheckpointStore(checkpoints);
    const lease = (await store.acquire('k', { holder: 'a', ttlMS: 5_000 }))!;
    await store.save(lease, { _data: '01' });
    const session = client.startSession();
    try {
      session.startTransaction();
      await store.save(lease, { _data: '02' }, { session });
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    await expect(store.load('k')).resolves.toEqual({ _data: '01' });
  });

  it('rejects something that is not a driver collection', () => {
    expect(() => new CollectionCheckpointStore({} as never)).toThrow(TypeError);
  });
});
