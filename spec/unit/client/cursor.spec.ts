import { Collection, type AbstractCursor } from 'mongodb';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { RxMongoClient } from '../../../lib/client/client';
import { fromDriverCursor } from '../../../lib/client/cursor';
import { ClientClosedError } from '../../../lib/errors';
import { FakeCursor } from '../driver/fakes';

/** A cursor with a `map()` transform: its buffered documents are raw, only `next()` maps them. */
class MappedCursor extends FakeCursor<number> {
  override async next(): Promise<number | null> {
    const raw = await super.next();
    return raw === null ? null : raw * 10;
  }
  override readBufferedDocuments(): number[] {
    throw new Error('readBufferedDocuments bypasses the transform');
  }
}

describe('fromDriverCursor', () => {
  let client: RxMongoClient;
  beforeEach(() => {
    client = new RxMongoClient('mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200');
  });
  afterEach(async () => {
    await firstValueFrom(client.close());
  });

  it('honours map() transforms, opens per subscriber and closes the cursor', async () => {
    const cursors: MappedCursor[] = [];
    const docs$ = fromDriverCursor(client.db('app').collection('c'), () => {
      const cursor = new MappedCursor([[1, 2], [3]]);
      cursors.push(cursor);
      return cursor as unknown as AbstractCursor<number>;
    });
    expect(cursors).toHaveLength(0);
    await expect(lastValueFrom(docs$.pipe(toArray()))).resolves.toEqual([10, 20, 30]);
    await expect(lastValueFrom(docs$.pipe(toArray()))).resolves.toEqual([10, 20, 30]);
    expect(cursors.map((c) => c.closeCalls)).toEqual([1, 1]);
  });

  it('accepts a client, a database or a typed collection as owner, and honours its closed state', async () => {
    const typed = client.db('app').collection<{ a: number }>('c');
    expect(typed.driver).toBeInstanceOf(Collection);
    const open = () => new FakeCursor([[1]]).asCursor();
    for (const owner of [client, client.db('app'), typed]) {
      await expect(firstValueFrom(fromDriverCursor(owner, open))).resolves.toBe(1);
    }
    await firstValueFrom(client.close());
    await expect(firstValueFrom(fromDriverCursor(typed, open))).rejects.toBeInstanceOf(ClientClosedError);
  });
});
