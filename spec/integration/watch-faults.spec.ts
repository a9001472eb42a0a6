/**
 * watch() under injected faults (`configureFailPoint` failCommand, scoped
 * to the spec's own client): errors the driver resumes from lose and repeat
 * nothing; history loss follows each policy; persistent errors restart no
 * faster than the backoff allows.
 */
import { MongoError, MongoServerError, type ChangeStreamDocument } from 'mongodb';
import { firstValueFrom, lastValueFrom, of, type Subscription } from 'rxjs';
import type { ChangeStreamStatus, RxWatchOptions } from '../../lib/change-stream';
import { describeWith } from '../support/backend';
import { eventually, failCommand, monitoredClient, settle } from './client-monitor';
import {
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
  f = await fixture('faults');
});

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
});

const ofType = <T extends ChangeStreamStatus['type']>(log: ChangeStreamStatus[], type: T) =>
  log.filter((s): s is Extract<ChangeStreamStatus, { type: T }> => s.type === type);

describeWith(['failCommand'], 'resumable errors mid-stream', () => {
  it.each([
    ['a ResumableChangeStreamError label', { errorCode: 6, errorLabels: ['ResumableChangeStreamError'] }],
    ['CursorNotFound (43)', { errorCode: 43 }],
    ['a closed connection', { closeConnection: true }],
  ])('%s: the driver resumes, nothing is lost or repeated', async (_what, fault) => {
    const stream = f.numbers.watch();
    const status = statusLog(stream);
    const opened = nextStatus(stream, 'opened');
    const seen: number[] = [];
    subscriptions.push(stream.subscribe((c) => seen.push(numberOf(c))));
    await opened;
    await insertNumbers(f.numbers, 1, 20);
    await eventually(() => seen.length === 20, 'first 20');
    await failCommand(f.m, { failCommands: ['getMore'], ...fault });
    await insertNumbers(f.numbers, 21, 40);
    await eventually(() => seen.length >= 40, 'all 40');
    await settle(200);
    expect(seen).toEqual(range(1, 40));
    expect(changeStreamAggregates(f.m).length).toBeGreaterThanOrEqual(1);
    expect(f.m.failed.some((e) => e.commandName === 'getMore')).toBe(true);
    expect(ofType(status, 'retrying')).toEqual([]);
  });

  it('consume() through a resumed error: each event handled exactly once', async () => {
    const stream = f.numbers.watch();
    const opened = nextStatus(stream, 'opened');
    const handled: number[] = [];
    subscriptions.push(
      stream.consume((c) => new Promise<void>((resolve) => setTimeout(() => resolve(void handled.push(numberOf(c))), 1)), { highWaterMark: 10 }).subscribe(),
    );
    await opened;
    await insertNumbers(f.numbers, 1, 30);
    await eventually(() => handled.length >= 5, 'handling under way');
    await failCommand(f.m, { failCommands: ['getMore'], errorCode: 43 });
    await insertNumbers(f.numbers, 31, 60);
    await eventually(() => handled.length >= 60, 'all 60', 20_000);
    await settle(200);
    expect(handled).toEqual(range(1, 60));
  });
});

describeWith(['failCommand'], 'history lost (286)', () => {
  async function lose(options: RxWatchOptions<ChangeStreamDocument<Numbered>>) {
    const stream = f.numbers.watch<Numbered>([], { retry: { initialDelayMS: 20, maxDelayMS: 100, jitter: 0 }, ...options });
    const status = statusLog(stream);
    const opened = nextStatus(stream, 'opened');
    const seen: Array<number | string> = [];
    const errors: unknown[] = [];
    subscriptions.push(
      stream.subscribe({
        next: (c) => seen.push(c.operationType === 'insert' ? c.fullDocument.n : c.operationType),
        error: (e: unknown) => errors.push(e),
      }),
    );
    await opened;
    await insertNumbers(f.numbers, 1, 3);
    await eventually(() => seen.length === 3, 'first 3');
    await failCommand(f.m, { failCommands: ['getMore'], errorCode: 286 });
    return { stream, status, seen, errors };
  }

  it("'error' (default): reported once, then the stream errors with the server's error", async () => {
    const { status, errors } = await lose({});
    await eventually(() => errors.length === 1, 'stream errored');
    expect(errors[0]).toBeInstanceOf(MongoServerError);
    expect((errors[0] as MongoServerError).code).toBe(286);
    expect(ofType(status, 'historyLost')).toHaveLength(1);
    expect(ofType(status, 'historyLost')[0].policy).toBe('error');
    expect(ofType(status, 'closed')).toHaveLength(1);
  });

  it("'restartFromNow': reported once, the stream reopens and goes on", async () => {
    const { stream, status, seen, errors } = await lose({ onHistoryLost: 'restartFromNow' });
    const resumed = nextStatus(stream, 'resumed');
    await resumed;
    await insertNumbers(f.numbers, 4, 6);
    await eventually(() => seen.includes(6), 'live events after the restart');
    expect(errors).toEqual([]);
    expect(seen.slice(0, 3)).toEqual([1, 2, 3]);
    expect(seen.slice(3).filter((x) => x !== 3)).toEqual([4, 5, 6]);
    expect(ofType(status, 'historyLost')).toHaveLength(1);
    expect(ofType(status, 'retrying')).toHaveLength(1);
    expect(ofType(status, 'resumed')).toHaveLength(1);
  });

  it('a function: its replacement events come first, then live changes', async () => {
    const { stream, status, seen } = await lose({
      onHistoryLost: () => of({ _id: { _data: 'resync' }, operationType: 'resync' } as unknown as ChangeStreamDocument<Numbered>),
    });
    await nextStatus(stream, 'resumed');
    await insertNumbers(f.numbers, 4, 4);
    await eventually(() => seen.includes(4), 'live event after the replacement');
    expect(seen.slice(0, 4)).toEqual([1, 2, 3, 'resync']);
    // The stream reopens at the server's time of the loss, inclusive: a change at that very time may repeat.
    expect(seen.slice(4).filter((x) => x !== 3)).toEqual([4]);
    expect(ofType(status, 'historyLost').map((s) => s.policy)).toEqual(['function']);
  });
});

describeWith(['failCommand'], 'persistent errors', () => {
  it('restart no faster than the backoff, reporting every attempt, and go on once the server answers', async () => {
    const stream = f.numbers.watch([], { retry: { initialDelayMS: 50, maxDelayMS: 400, factor: 2, jitter: 0 } });
    const status = statusLog(stream);
    await failCommand(f.m, { failCommands: ['aggregate'], errorCode: 6 }, 8);
    const started = Date.now();
    const opened = nextStatus(stream, 'opened');
    const seen: number[] = [];
    subscriptions.push(stream.subscribe((c) => seen.push(numberOf(c))));
    await opened;
    const elapsed = Date.now() - started;
    const delays = ofType(status, 'retrying').map((s) => s.delayMS);
    expect(delays.length).toBeGreaterThanOrEqual(4);
    expect(delays.slice(0, 5)).toEqual([50, 100, 200, 400, 400].slice(0, delays.length));
    expect(elapsed).toBeGreaterThanOrEqual(delays.reduce((a, b) => a + b, 0));
    // The driver retries a read once by itself, so each restart costs at most two aggregates.
    expect(changeStreamAggregates(f.m).length).toBeLessThanOrEqual(2 * (delays.length + 1));
    await insertNumbers(f.numbers, 1, 2);
    await eventually(() => seen.length === 2, 'events once open');
  });
});

describe('an unreachable server at open', () => {
  it('is retried exactly as retry says, each attempt reported, then the stream errors', async () => {
    // Port 1 on this host refuses connections: every server selection fails fast.
    const unreachable = monitoredClient({ serverSelectionTimeoutMS: 200 }, 'mongodb://127.0.0.1:1/?directConnection=true');
    try {
      const stream = unreachable.client.db('db').collection('c').watch([], { retry: { initialDelayMS: 20, maxDelayMS: 20, jitter: 0, maxAttempts: 3 } });
      const status = statusLog(stream);
      const error = await firstValueFrom(stream).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MongoError);
      expect(ofType(status, 'retrying').map((s) => s.attempt)).toEqual([1, 2, 3]);
      expect(status.map((s) => s.type)).toEqual(['retrying', 'retrying', 'retrying']);
    } finally {
      await lastValueFrom(unreachable.client.close());
    }
  });
});
