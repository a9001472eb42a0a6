/**
 * The multicast side of RxChangeStream on a fake server: one cursor for any
 * number of subscribers, reference counting with linger, late subscribers,
 * isolation of throwing and slow subscribers, and checkpoints of delivered
 * events and of post-batch tokens.
 */
import { asyncScheduler, map, type Subscription } from 'rxjs';
import { RxChangeStream } from '../../../lib/change-stream';
import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { SubscriberOverflowError } from '../../../lib/errors';
import { FakeServer, token, type FakeChange } from './fake-server';
import { fastRetry, recordStatus, until } from './helpers';
import { ManualScheduler } from './manual-scheduler';

function collect(stream: RxChangeStream<never, FakeChange>) {
  const seen: number[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const subscription = stream.subscribe({
    next: (c) => seen.push(c.n),
    error: (e: unknown) => errors.push(e),
    complete: () => (completed = true),
  });
  return { seen, errors, subscription, completed: () => completed };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('RxChangeStream multicast (fake server)', () => {
  let server: FakeServer;
  const subscriptions: Subscription[] = [];
  beforeEach(() => {
    server = new FakeServer();
  });
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    await until(() => server.live.length === 0, 'every fake cursor closed');
  });

  it.each([1, 10, 100])('serves %i subscribers from one cursor and kills it when the last leaves', async (k) => {
    const stream = new RxChangeStream(server.open, [], { retry: fastRetry });
    const status = recordStatus(stream);
    expect(server.opened).toHaveLength(0);
    const subscribers = Array.from({ length: k }, () => collect(stream));
    await until(() => status.types().includes('opened'), 'opened');
    server.write(5);
    await until(() => subscribers.every((s) => s.seen.length === 5), 'all subscribers got 5 events');
    expect(subscribers.every((s) => s.seen.join() === '1,2,3,4,5')).toBe(true);
    expect(server.count('aggregate')).toBe(1);
    subscribers.slice(1).forEach((s) => s.subscription.unsubscribe());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.count('killCursors')).toBe(0);
    subscribers[0].subscription.unsubscribe();
    await until(() => status.types().includes('closed'), 'closed');
    expect(server.count('killCursors')).toBe(1);
    expect(server.live).toHaveLength(0);
    expect(status.types().filter((t) => t === 'opened' || t === 'closed')).toEqual(['opened', 'closed']);
    status.subscription.unsubscribe();
  });

  it('gives a late subscriber the events from its arrival on', async () => {
    const stream = new RxChangeStream(server.open);
    const status = recordStatus(stream);
    const early = collect(stream);
    subscriptions.push(early.subscription);
    await until(() => status.types().includes('opened'), 'opened');
    server.write(3);
    await until(() => early.seen.length === 3, 'early got 3');
    const late = collect(stream);
    subscriptions.push(late.subscription);
    server.write(2);
    await until(() => early.seen.length === 5 && late.seen.length === 2, 'both got the last 2');
    expect(late.seen).toEqual([4, 5]);
    expect(server.count('aggregate')).toBe(1);
  });

  it('keeps the cursor for `linger` ms after the last subscriber, reusing it for one who comes back', async () => {
    const scheduler = new ManualScheduler();
    const stream = new RxChangeStream(server.open, [], { linger: 100, scheduler });
    const status = recordStatus(stream);
    collect(stream).subscription.unsubscribe();
    scheduler.advance(99);
    const back = collect(stream);
    scheduler.advance(500);
    await until(() => status.types().includes('opened'), 'opened');
    expect(server.live).toHaveLength(1);
    back.subscription.unsubscribe();
    scheduler.advance(99);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.live).toHaveLength(1);
    scheduler.advance(1);
    await until(() => status.types().includes('closed'), 'closed after linger');
    expect(server.count('aggregate')).toBe(1);
    expect(server.count('killCursors')).toBe(1);
  });

  it('connect() opens without a subscriber and holds the cursor until unsubscribed', async () => {
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store, key: 'k', every: { events: 1 } } });
    const status = recordStatus(stream);
    const connection = stream.connect();
    await until(() => status.types().includes('opened'), 'opened');
    server.write(2);
    await until(async () => sameJson(await store.load('k'), token(2)), 'dispatched events checkpointed with nobody listening');
    const sub = collect(stream);
    server.write(1);
    await until(() => sub.seen.length === 1, 'subscriber got the next event');
    sub.subscription.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.live).toHaveLength(1);
    connection.unsubscribe();
    await until(() => status.types().includes('closed'), 'closed');
    expect(await store.load('k')).toEqual(token(3));
  });

  it('a subscriber that throws errors alone; the others and the cursor carry on', async () => {
    const stream = new RxChangeStream(server.open);
    const status = recordStatus(stream);
    const boom = new Error('subscriber bug');
    const failing: unknown[] = [];
    subscriptions.push(
      stream
        .pipe(
          map((c) => {
            if (c.n === 2) throw boom;
            return c;
          }),
        )
        .subscribe({ error: (e: unknown) => failing.push(e) }),
    );
    const healthy = collect(stream);
    subscriptions.push(healthy.subscription);
    await until(() => status.types().includes('opened'), 'opened');
    server.write(4);
    await until(() => healthy.seen.length === 4, 'healthy got everything');
    expect(failing).toEqual([boom]);
    expect(healthy.errors).toEqual([]);
    expect(server.count('aggregate')).toBe(1);
  });

  it('a subscriber that falls bufferSize behind errors with SubscriberOverflowError; the others get every event', async () => {
    const stream = new RxChangeStream(server.open, [], { bufferSize: 20 });
    const status = recordStatus(stream);
    const slowErrors: unknown[] = [];
    let slowSeen = 0;
    subscriptions.push(
      stream.subscribe({
        next: () => {
          slowSeen += 1;
          const end = Date.now() + 5;
          while (Date.now() < end); // a subscriber that is slow in next()
        },
        error: (e: unknown) => slowErrors.push(e),
      }),
    );
    const fast = collect(stream);
    subscriptions.push(fast.subscription);
    await until(() => status.types().includes('opened'), 'opened');
    server.write(200);
    await until(() => fast.seen.length === 200, 'fast subscriber got all 200');
    expect(fast.seen).toEqual(range(1, 200));
    expect(fast.errors).toEqual([]);
    await until(() => slowErrors.length === 1, 'slow subscriber dropped');
    expect(slowErrors[0]).toBeInstanceOf(SubscriberOverflowError);
    expect(slowSeen).toBeLessThan(200);
    expect(Math.max(...server.opened.map((s) => s.maxBuffered))).toBeLessThanOrEqual(20);
  });

  it.each<[string, Record<string, unknown>, number]>([
    ['500 by default', {}, 500],
    ['at most bufferSize', { bufferSize: 20 }, 20],
    ['at most checkpoint.every.events', { checkpoint: { store: new MemoryCheckpointStore(), key: 'b', every: { events: 50 } } }, 50],
    ["the user's batchSize, whatever bufferSize", { batchSize: 2_000, bufferSize: 20 }, 2_000],
  ])('reads ahead %s', async (_case, options, batchSize) => {
    const stream = new RxChangeStream(server.open, [], options);
    const status = recordStatus(stream);
    subscriptions.push(collect(stream).subscription);
    await until(() => status.types().includes('opened'), 'opened');
    expect(server.opened[0].options.batchSize).toBe(batchSize);
  });

  it('hands each driver batch to every subscriber before the next read, with no scheduler hop', async () => {
    const stream = new RxChangeStream(server.open, [], { batchSize: 10 });
    const status = recordStatus(stream);
    const a = collect(stream);
    const b = collect(stream);
    subscriptions.push(a.subscription, b.subscription);
    await until(() => status.types().includes('opened'), 'opened');
    const hops = jest.spyOn(asyncScheduler, 'schedule');
    const seenAtGetMore: number[][] = [];
    const run = server.run.bind(server);
    server.run = (name, cursor) => {
      if (name === 'getMore') seenAtGetMore.push([a.seen.length, b.seen.length]);
      run(name, cursor);
    };
    server.write(30);
    await until(() => seenAtGetMore.some(([x]) => x === 30), 'the read after the third batch');
    const scheduled = hops.mock.calls.length;
    hops.mockRestore();
    expect(scheduled).toBe(0);
    // Every getMore after the first batch was sent only once both had the whole batch before it.
    expect(seenAtGetMore.filter(([x]) => x > 0).slice(0, 3)).toEqual([
      [10, 10],
      [20, 20],
      [30, 30],
    ]);
  });

  it('checkpoints what every subscriber was handed, and a restart resumes right after it', async () => {
    const store = new MemoryCheckpointStore();
    const options = { checkpoint: { store, key: 'dash', every: { events: 3, ms: 10_000 } } };
    const first = new RxChangeStream(server.open, [], options);
    const status = recordStatus(first);
    const a = collect(first);
    await until(() => status.types().includes('opened'), 'opened');
    server.write(7);
    await until(() => a.seen.length === 7, 'got 7');
    a.subscription.unsubscribe();
    await until(() => status.types().includes('closed'), 'closed');
    expect(await store.load('dash')).toEqual(token(7));
    expect(status.log.filter((s) => s.type === 'checkpointed').map((s) => (s as { token: unknown }).token)).toContainEqual(token(7));

    server.write(3);
    const second = new RxChangeStream(server.open, [], options);
    const b = collect(second);
    subscriptions.push(b.subscription);
    await until(() => b.seen.length === 3, 'restart got the 3 written while down');
    expect(b.seen).toEqual([8, 9, 10]);
    expect(server.opened[1].options.startAfter).toEqual(token(7));
  });

  it('moves the checkpoint with post-batch tokens on a quiet, filtered stream', async () => {
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [{ $match: { never: true } }], {
      checkpoint: { store, key: 'quiet', every: { events: 100, ms: 10 } },
    });
    const status = recordStatus(stream);
    const sub = collect(stream);
    subscriptions.push(sub.subscription);
    await until(() => status.types().includes('opened'), 'opened');
    server.write(10, { matches: false });
    await until(async () => sameJson(await store.load('quiet'), token(10)), 'checkpoint reached the post-batch token');
    expect(sub.seen).toEqual([]);
    expect(stream.resumeToken).toEqual(token(10));
  });
});

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
