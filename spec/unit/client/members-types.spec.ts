/**
 * The typed mapping's signatures, checked by the compiler (`npx tsc`): each
 * `expectType` line fails type-checking if the mapping drifts, and each
 * `@ts-expect-error` fails if a bad call starts to compile. At runtime the
 * calls only build cold Observables (nothing is sent).
 */
import type { Document, IndexDescriptionInfo, InsertOneResult, ModifyResult, WithId } from 'mongodb';
import { firstValueFrom, isObservable, type Observable } from 'rxjs';
import { RxMongoClient } from '../../../lib/client/client';
import type { RxCollection } from '../../../lib/client/collection';
import type { RxClientSession } from '../../../lib/client/session';

/** Compiles only when `value` has exactly type `T`. */
function expectType<T>() {
  return <V>(value: V & ([T] extends [V] ? ([V] extends [T] ? unknown : never) : never)) => value;
}

interface Item {
  _id: number;
  name: string;
  tags: string[];
}

describe('RxCollection / RxDatabase signatures', () => {
  const client = new RxMongoClient('mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100');
  afterAll(async () => {
    await firstValueFrom(client.close());
  });
  const db = client.db('types');
  const items = db.collection<Item>('items');

  it('maps promises to one-value Observables and cursors to Observables of documents, keeping overloads', () => {
    const built: Observable<unknown>[] = [
      expectType<Observable<WithId<Item> | null>>()(items.findOne()),
      expectType<Observable<WithId<Item> | null>>()(items.findOne({ name: 'a' }, { projection: { name: 1 } })),
      expectType<Observable<WithId<Item>>>()(items.find({ tags: 'x' })),
      expectType<Observable<{ n: number }>>()(items.aggregate<{ n: number }>([])),
      expectType<Observable<InsertOneResult<Item>>>()(items.insertOne({ _id: 1, name: 'a', tags: [] })),
      expectType<Observable<ModifyResult<Item>>>()(
        items.findOneAndUpdate({ _id: 1 }, { $set: { name: 'b' } }, { includeResultMetadata: true }),
      ),
      expectType<Observable<WithId<Item> | null>>()(items.findOneAndUpdate({ _id: 1 }, { $set: { name: 'b' } })),
      expectType<Observable<IndexDescriptionInfo[]>>()(items.indexInformation({ full: true })),
      expectType<Observable<string[]>>()(items.distinct('name')),
      expectType<Observable<RxCollection<Item>>>()(db.createCollection<Item>('made')),
      expectType<Observable<RxCollection<Document>[]>>()(db.collections()),
      expectType<Observable<Document>>()(db.command({ ping: 1 })),
    ];
    expect(built.every(isObservable)).toBe(true);
  });

  it('forwards driver getters as read-only values', () => {
    expectType<string>()(items.collectionName);
    expectType<string>()(db.databaseName);
    expect(items.collectionName).toBe('items');
    expect(() => {
      // @ts-expect-error read-only
      items.collectionName = 'other';
    }).toThrow(TypeError);
  });

  it('accepts an RxClientSession where the driver takes a ClientSession, and refuses wrong types', async () => {
    const session: RxClientSession = await firstValueFrom(client.startSession());
    const built: Observable<unknown>[] = [
      items.insertOne({ _id: 2, name: 'b', tags: [] }, { session }),
      items.find({}, { session, limit: 1 }),
      items.updateMany({}, { $set: { name: 'c' } }, { session: session.driver }),
      // @ts-expect-error name must be a string
      items.insertOne({ _id: 3, name: 3, tags: [] }),
      // @ts-expect-error not a session
      items.insertOne({ _id: 4, name: 'd', tags: [] }, { session: 'nope' }),
      // @ts-expect-error $gt on a string field takes a string
      items.find({ name: { $gt: 1 } }),
    ];
    expect(built.every(isObservable)).toBe(true);
    await firstValueFrom(session.endSession());
  });
});
