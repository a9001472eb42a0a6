/**
 * watch() on the run's backend: one server cursor for any number of
 * subscribers, killCursors when the last leaves, late subscribers, consume()
 * with memory bounded by highWaterMark (measured from the server's replies),
 * errors passed through unchanged, and the client's close.
 */
import { MongoServerError, type ChangeStreamDocument, type CommandSucceededEvent } from 'mongodb';
import { asapScheduler, asyncScheduler, filter, firstValueFrom, lastValueFrom, map, take, toArray, type Subscription } from 'rxjs';
import { RxChangeStream } from '../../lib/change-stream';
import { ClientClosedError } from '../../lib/errors';
import { eventually, monitoredClient, settle } from './client-monitor';
import {
  batchOf,
  changeStreamAggregates,
  fixture,
  insertNumbers,
  nextStatus,
  numberOf,
  range,
  statusLog,
  type Fixture,
  type Numbered,
} from './watch-support';

let f: Fixture;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  f = await fixture('watch');
});

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
});

describe('watch() on a collection, a database and the client', () => {
  it('returns an RxChangeStream that sends nothing before subscribe', async () => {
    const streams = [f.numbers.watch(), f.m.client.db(f.numbers.dbName).watch(), f.m.client.watch()];
    for (const stream of streams) expect(stream).toBeInstanceOf(RxChangeStream);
    await settle();
    expect(f.m.started).toHaveLength(0);
  });

  it.each([
    ['collection', () => f.numbers.watch<Numbered>()],
    ['database', () => f.m.client.db(f.numbers.dbName).watch<Numbered>()],
    ['client', () => f.m.client.watch<Numbered>([{ $match: { 'ns.db': f.numbers.dbName } }])],
  ] as const)('delivers the changes of its %s', async (_level, watch) => {
    const stream = watch();
    const opened = nextStatus(stream, 'opened');
    const three = lastValueFrom(stream.pipe(map((c) => numberOf(c as ChangeStreamDocument<Numbered>)), take(3), toArray()));
    await opened;
    await insertNumbers(f.numbers, 1, 3);
    await expect(three).resolves.toEqual([1, 2, 3]);
  });
});

describe('multicast', () => {
  it.each([1, 10, 100])('%i subscribers share exactly one server cursor; the last unsubscribe kills it', async (k) => {
    const stream = f.numbers.watch();
    const status = statusLog(stream);
    const opened = nextStatus(stream, 'opened');
    const seen = Array.from({ length: k }, () => [] as number[]);
    const subs = seen.map((list) => stream.subscribe((c) => list.push(numberOf(c))));
    await opened;
    await insertNumbers(f.numbers, 1, 5);
    await eventually(() => seen.every((list) => list.length === 5), 'every subscriber got 5 events');
    expect(seen.every((list) => list.join() === '1,2,3,4,5')).toBe(true);
    expect(changeStreamAggregates(f.m)).toHaveLength(1);

    const reply = f.m.succeeded.find((e) => e.commandName === 'aggregate')?.reply as { cursor: { id: unknown } };
    const cursorId = reply.cursor.id;
    subs.slice(1).forEach((s) => s.unsubscribe());
    await settle();
    expect(f.m.commands('killCursors')).toHaveLength(0);
    const closed = nextStatus(stream, 'closed');
    subs[0].unsubscribe();
    await closed;
    const kills = f.m.commands('killCursors');
    expect(kills).toHaveLength(1);
    expect(String(kills[0].cursors[0])).toBe(String(cursorId));
    expect(status.filter((s) => s.type === 'opened' || s.type === 'closed').map((s) => s.type)).toEqual(['opened', 'closed']);
  });

  it('gives a late subscriber the changes from its arrival on, on the same cursor', async () => {
    const stream = f.numbers.watch();
    const opened = nextStatus(stream, 'opened');
    const early: number[] = [];
    subscriptions.push(stream.subscribe((c) => early.push(numberOf(c))));
    await opened;
    await insertNumbers(f.numbers, 1, 3);
    await eventually(() => early.length === 3, 'early subscriber got 3');
    const late = firstValueFrom(stream.pipe(map(numberOf), take(2), toArray()));
    await insertNumbers(f.numbers, 4, 5);
    await expect(late).resolves.toEqual([4, 5]);
    expect(changeStreamAggregates(f.m)).toHaveLength(1);
  });

  it("delivers each batch with no scheduler hop when the client has no scheduler, and through the client's when it has one", async () => {
    const timerHops = jest.spyOn(asyncScheduler, 'schedule');
    const asapHops = jest.spyOn(asapScheduler, 'schedule');
    const other = monitoredClient({ scheduler: asapScheduler });
    try {
      const plain = f.numbers.watch();
      const viaClient = other.client.db(f.numbers.dbName).collection<Numbered>('numbers').watch();
      const plainOpened = nextStatus(plain, 'opened');
      const fromPlain = lastValueFrom(plain.pipe(map(numberOf), take(5), toArray()));
      await plainOpened;
      timerHops.mockClear();
      await insertNumbers(f.numbers, 1, 5);
      await expect(fromPlain).resolves.toEqual(range(1, 5));
      expect(timerHops).not.toHaveBeenCalled();

      const clientOpened = nextStatus(viaClient, 'opened');
      const fromClient = lastValueFrom(viaClient.pipe(map(numberOf), take(5), toArray()));
      await clientOpened;
      asapHops.mockClear();
      await insertNumbers(f.numbers, 6, 10);
      await expect(fromClient).resolves.toEqual(range(6, 10));
      expect(asapHops).toHaveBeenCalled();
    } finally {
      timerHops.mockRestore();
      asapHops.mockRestore();
      await lastValueFrom(other.client.close());
    }
  });

  it('connect() opens the cursor before any subscriber and keeps it until released', async () => {
    const stream = f.numbers.watch();
    const opened = nextStatus(stream, 'opened');
    const connection = stream.connect();
    await opened;
    expect(changeStreamAggregates(f.m)).toHaveLength(1);
    const first = firstValueFrom(stream.pipe(map(numberOf)));
    await insertNumbers(f.numbers, 1, 1);
    await expect(first).resolves.toBe(1);
    await settle();
    expect(f.m.commands('killCursors')).toHaveLength(0);
    const closed = nextStatus(stream, 'closed');
    connection.unsubscribe();
    await closed;
    expect(f.m.commands('killCursors')).toHaveLength(1);
  });
});

describe('consume()', () => {
  it.each([1, 8, 40])(
    'holds at most highWaterMark = %i events in memory under a slow handler (measured from server replies)',
    async (highWaterMark) => {
      const stream = f.numbers.watch();
      const opened = nextStatus(stream, 'opened');
      let fetched = 0;
      let completed = 0;
      let maxHeld = 0;
      const sample = (): void => {
        maxHeld = Math.max(maxHeld, fetched - completed);
      };
      f.m.client.driver.on('commandSucceeded', (e: CommandSucceededEvent) => {
        fetched += batchOf(e).length;
        sample();
      });
      const handled: number[] = [];
      subscriptions.push(
        stream
          .consume(
            (change) =>
              new Promise<void>((resolve) =>
                setTimeout(() => {
                  handled.push(numberOf(change));
                  completed += 1;
                  resolve();
                }, 2),
              ),
            { highWaterMark },
          )
          .subscribe(),
      );
      await opened;
      await insertNumbers(f.numbers, 1, 120);
      await eventually(() => handled.length === 120, 'all 120 handled', 20_000);
      expect(handled).toEqual(range(1, 120));
      expect(fetched).toBe(120);
      expect(maxHeld).toBeLessThanOrEqual(highWaterMark);
      if (highWaterMark > 1) expect(maxHeld).toBeGreaterThan(1);
    },
  );
});

describe('errors', () => {
  it('a bad pipeline errors the stream at once with the server error, unchanged, and no retry', async () => {
    const stream = f.numbers.watch([{ $bogusStage: {} }], { retry: { initialDelayMS: 1, maxDelayMS: 1 } });
    const status = statusLog(stream);
    const error = await firstValueFrom(stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MongoServerError);
    expect(changeStreamAggregates(f.m)).toHaveLength(1);
    expect(status.filter((s) => s.type === 'retrying')).toEqual([]);
  });

  it('validates options at the call, sending nothing', async () => {
    expect(() => f.numbers.watch({} as never)).toThrow(TypeError);
    expect(() => f.numbers.watch([], { highWaterMark: 0 })).toThrow(RangeError);
    expect(() => f.numbers.watch([], { resumeAfter: { _data: 'a' }, startAfter: { _data: 'b' } })).toThrow(TypeError);
    await settle();
    expect(f.m.started).toHaveLength(0);
  });

  it("the client's close kills the cursor, then completes subscribers (closing is not a failure); later calls error", async () => {
    const stream = f.numbers.watch();
    const status = statusLog(stream);
    const opened = nextStatus(stream, 'opened');
    const ended = lastValueFrom(stream.pipe(toArray())).then(
      (values) => ({ completed: values }),
      (e: unknown) => ({ error: e }),
    );
    const handled: number[] = [];
    const consumer = lastValueFrom(stream.consume((c) => void handled.push(numberOf(c))).pipe(toArray())).then(
      () => 'completed',
      (e: unknown) => e,
    );
    await opened;
    await eventually(() => status.filter((s) => s.type === 'opened').length === 2, 'both subscriptions opened');
    await f.close();
    await expect(ended).resolves.toEqual({ completed: [] });
    await expect(consumer).resolves.toBe('completed');
    expect(f.m.commands('killCursors')).toHaveLength(2);
    expect(status.filter((s) => s.type === 'closed')).toEqual([
      { type: 'closed', reason: 'clientClosed' },
      { type: 'closed', reason: 'clientClosed' },
    ]);
    expect(() => f.numbers.watch()).toThrow(ClientClosedError);
  });
});
