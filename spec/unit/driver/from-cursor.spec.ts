import { firstValueFrom, lastValueFrom, take, toArray, VirtualTimeScheduler } from 'rxjs';
import { ClientClosedError } from '../../../lib/errors';
import { fromCursor } from '../../../lib/driver/from-cursor';
import { fakeContext, FakeCursor, settle } from './fakes';

describe('fromCursor', () => {
  it('opens nothing before subscribe and a new cursor per subscribe', async () => {
    const { context } = fakeContext();
    const cursors: FakeCursor<number>[] = [];
    const docs$ = fromCursor(context, () => {
      const cursor = new FakeCursor([[1, 2], [3]]);
      cursors.push(cursor);
      return cursor.asCursor();
    });
    expect(cursors).toHaveLength(0);
    await expect(lastValueFrom(docs$.pipe(toArray()))).resolves.toEqual([1, 2, 3]);
    await expect(lastValueFrom(docs$.pipe(toArray()))).resolves.toEqual([1, 2, 3]);
    expect(cursors).toHaveLength(2);
  });

  it('closes the cursor exactly once when it completes', async () => {
    const { context } = fakeContext();
    const cursor = new FakeCursor([[1], [2]]);
    await lastValueFrom(fromCursor(context, () => cursor.asCursor()).pipe(toArray()));
    await settle();
    expect(cursor.closeCalls).toBe(1);
  });

  it('completes an empty cursor', async () => {
    const { context } = fakeContext();
    const cursor = new FakeCursor<number>([[]]);
    await expect(lastValueFrom(fromCursor(context, () => cursor.asCursor()).pipe(toArray()))).resolves.toEqual([]);
  });

  it('does not fetch the next batch when the subscriber has left mid-batch', async () => {
    const { context } = fakeContext();
    const cursor = new FakeCursor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    await expect(lastValueFrom(fromCursor(context, () => cursor.asCursor()).pipe(take(2), toArray()))).resolves.toEqual([1, 2]);
    await settle();
    expect(cursor.fetches).toBe(1);
    expect(cursor.closeCalls).toBe(1);
  });

  it('closes only after an in-flight fetch settles when unsubscribed during it', async () => {
    const { context } = fakeContext();
    const cursor = new FakeCursor([[1]], { gated: true });
    const subscription = fromCursor(context, () => cursor.asCursor()).subscribe();
    await settle();
    expect(cursor.fetches).toBe(1);
    subscription.unsubscribe();
    expect(cursor.closeCalls).toBe(0);
    cursor.release();
    await settle();
    expect(cursor.closeCalls).toBe(1);
    expect(cursor.closedWhileFetching).toBe(false);
  });

  it('sends fetch errors to the error channel, after the documents before them, and closes the cursor', async () => {
    const { context } = fakeContext();
    const boom = new Error('getMore failed');
    const cursor = new FakeCursor([[1], [2]], { failOnFetch: 2, error: boom });
    const seen: number[] = [];
    await expect(
      new Promise((resolve, reject) =>
        fromCursor(context, () => cursor.asCursor()).subscribe({
          next: (v) => seen.push(v),
          error: reject,
          complete: () => resolve(undefined),
        }),
      ),
    ).rejects.toBe(boom);
    expect(seen).toEqual([1]);
    await settle();
    expect(cursor.closeCalls).toBe(1);
  });

  it('sends a throwing cursor factory to the error channel', async () => {
    const { context } = fakeContext();
    const boom = new TypeError('bad filter');
    await expect(
      firstValueFrom(
        fromCursor(context, () => {
          throw boom;
        }),
      ),
    ).rejects.toBe(boom);
  });

  it('errors with ClientClosedError after close, without opening a cursor', async () => {
    const { context } = fakeContext();
    await context.close();
    let opened = 0;
    await expect(
      firstValueFrom(
        fromCursor(context, () => {
          opened += 1;
          return new FakeCursor([[1]]).asCursor();
        }),
      ),
    ).rejects.toBeInstanceOf(ClientClosedError);
    expect(opened).toBe(0);
  });

  it('on a scheduler, fetches the next batch only after the current one was delivered', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { context } = fakeContext(scheduler);
    const cursor = new FakeCursor([
      [1, 2],
      [3, 4],
    ]);
    const seen: number[] = [];
    let completed = false;
    fromCursor(context, () => cursor.asCursor()).subscribe({ next: (v) => seen.push(v), complete: () => (completed = true) });
    await settle();
    expect(cursor.fetches).toBe(1);
    expect(seen).toEqual([]);
    scheduler.flush();
    expect(seen).toEqual([1, 2]);
    await settle();
    expect(cursor.fetches).toBe(2);
    scheduler.flush();
    await settle();
    scheduler.flush();
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(completed).toBe(true);
    await settle();
    expect(cursor.closeCalls).toBe(1);
  });

  it('on a scheduler, releases the cursor when unsubscribed before a batch is delivered', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { context } = fakeContext(scheduler);
    const cursor = new FakeCursor([[1, 2], [3]]);
    const seen: number[] = [];
    const subscription = fromCursor(context, () => cursor.asCursor()).subscribe((v) => seen.push(v));
    await settle();
    subscription.unsubscribe();
    expect(cursor.closeCalls).toBe(1);
    scheduler.flush();
    await settle();
    expect(seen).toEqual([]);
    expect(cursor.fetches).toBe(1);
    expect(cursor.closeCalls).toBe(1);
  });
});
