/**
 * Recovery on a fake server: restarts after errors the driver surfaces,
 * backoff that bounds the restart rate, fatal errors, history loss and
 * invalidate policies — each reported once on status$.
 */
import { MongoNetworkError, MongoServerError } from 'mongodb';
import { of, type Subscription } from 'rxjs';
import { RxChangeStream, type ChangeStreamStatus } from '../../../lib/change-stream';
import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { FakeServer, token, type FakeChange } from './fake-server';
import { fastRetry, recordStatus, seed, until } from './helpers';

function collect(stream: RxChangeStream<never, FakeChange>) {
  const seen: number[] = [];
  const ops: string[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const subscription = stream.subscribe({
    next: (c) => {
      seen.push(c.n);
      ops.push(c.operationType);
    },
    error: (e: unknown) => errors.push(e),
    complete: () => (completed = true),
  });
  return { seen, ops, errors, subscription, completed: () => completed };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ofType = <T extends ChangeStreamStatus['type']>(log: ChangeStreamStatus[], type: T) =>
  log.filter((s): s is Extract<ChangeStreamStatus, { type: T }> => s.type === type);

describe('RxChangeStream recovery (fake server)', () => {
  let server: FakeServer;
  const subscriptions: Subscription[] = [];
  beforeEach(() => {
    server = new FakeServer();
  });
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    await until(() => server.live.length === 0, 'every fake cursor closed');
  });

  it('restarts after a surfaced error from the last position: no loss, no duplicate, reported once', async () => {
    const stream = new RxChangeStream(server.open, [], { retry: fastRetry });
    const status = recordStatus(stream);
    const sub = collect(stream);
    subscriptions.push(sub.subscription);
    await until(() => status.types().includes('opened'), 'opened');
    server.write(5);
    await until(() => sub.seen.length === 5, 'first 5');
    const outage = new MongoNetworkError('connection reset, driver resume failed');
    server.fail('getMore', outage);
    server.write(5);
    await until(() => sub.seen.length === 10, 'all 10');
    expect(sub.seen).toEqual(range(1, 10));
    expect(server.opened[1].options.startAfter).toEqual(token(5));
    expect(status.types()).toEqual(['opened', 'retrying', 'resumed']);
    expect(ofType(status.log, 'retrying')[0]).toMatchObject({ attempt: 1, error: outage, delayMS: 5 });
    expect(ofType(status.log, 'resumed')[0]).toMatchObject({ attempt: 1, error: outage });
    expect(sub.errors).toEqual([]);
  });

  it('retries a failing first open, then reports opened (not resumed)', async () => {
    server.fail('aggregate', new MongoNetworkError('no server yet'), 2);
    const stream = new RxChangeStream(server.open, [], { retry: fastRetry });
    const status = recordStatus(stream);
    const sub = collect(stream);
    subscriptions.push(sub.subscription);
    await until(() => status.types().includes('opened'), 'opened');
    expect(status.types()).toEqual(['retrying', 'retrying', 'opened']);
    server.write(2);
    await until(() => sub.seen.length === 2, 'events after the late open');
  });

  it('bounds the restart rate of persistent errors by the backoff, and gives up after maxAttempts', async () => {
    const last = new MongoNetworkError('down for good');
    server.fail('aggregate', new MongoNetworkError('down'), 5);
    server.fail('aggregate', last, 1);
    const stream = new RxChangeStream(server.open, [], { retry: { ...fastRetry, maxAttempts: 5 } });
    const status = recordStatus(stream);
    const sub = collect(stream);
    await until(() => sub.errors.length === 1, 'the stream errors');
    expect(sub.errors[0]).toBe(last);
    const delays = ofType(status.log, 'retrying').map((s) => s.delayMS);
    expect(delays).toEqual([5, 10, 20, 40, 40]);
    expect(server.count('aggregate')).toBe(6);
    expect(status.types()).not.toContain('opened');
    expect(status.types()).not.toContain('closed');
  });

  it('errors at once on a fatal error (bad pipeline), without retrying', async () => {
    const badStage = new MongoServerError({ message: "Unrecognized pipeline stage name: '$bogus'", code: 40324 });
    server.fail('aggregate', badStage);
    const stream = new RxChangeStream(server.open, [{ $bogus: 1 }], { retry: fastRetry });
    const status = recordStatus(stream);
    const sub = collect(stream);
    await until(() => sub.errors.length === 1, 'error');
    expect(sub.errors[0]).toBe(badStage);
    expect(server.count('aggregate')).toBe(1);
    expect(status.log).toEqual([]);
  });

  it('errors with a fatal getMore error after opening, reporting closed with it', async () => {
    const denied = new MongoServerError({ message: 'not authorized', code: 13 });
    const stream = new RxChangeStream(server.open, [], { retry: fastRetry });
    const status = recordStatus(stream);
    const sub = collect(stream);
    await until(() => status.types().includes('opened'), 'opened');
    server.fail('getMore', denied);
    await until(() => sub.errors.length === 1, 'error');
    expect(sub.errors[0]).toBe(denied);
    expect(status.types()).toEqual(['opened', 'closed']);
    expect(ofType(status.log, 'closed')[0]).toMatchObject({ reason: 'error', error: denied });
  });

  describe('history lost (286)', () => {
    async function lostStream(policy: ConstructorParameters<typeof RxChangeStream<never, FakeChange>>[2]) {
      const store = new MemoryCheckpointStore();
      await seed(store, 'k', token(2));
      server.write(10);
      server.historyStart = 5;
      const stream = new RxChangeStream<never, FakeChange>(server.open, [], {
        retry: fastRetry,
        checkpoint: { store, key: 'k', every: { events: 1 } },
        ...policy,
      });
      return { stream, store, status: recordStatus(stream) };
    }

    it("'error' (default) reports it and errors with the server's error", async () => {
      const { stream, status } = await lostStream({});
      const sub = collect(stream);
      await until(() => sub.errors.length === 1, 'error');
      expect((sub.errors[0] as MongoServerError).code).toBe(286);
      expect(status.types()).toEqual(['acquired', 'historyLost']);
      expect(ofType(status.log, 'historyLost')[0]).toMatchObject({ token: token(2), policy: 'error' });
      expect(server.count('aggregate')).toBe(1);
    });

    it("'restartFromNow' reports it once, restarts at the moment of loss and moves the checkpoint on", async () => {
      const { stream, store, status } = await lostStream({ onHistoryLost: 'restartFromNow' });
      const sub = collect(stream);
      subscriptions.push(sub.subscription);
      await until(() => status.types().includes('opened'), 'opened');
      server.write(2);
      await until(() => sub.seen.length === 2, 'live events');
      expect(sub.seen).toEqual([11, 12]);
      expect(status.types().slice(0, 4)).toEqual(['acquired', 'historyLost', 'retrying', 'opened']);
      expect(server.opened[1].options.startAtOperationTime?.low).toBe(10);
      expect(server.opened[1].options.startAfter).toBeUndefined();
      await until(async () => JSON.stringify(await store.load('k')) === JSON.stringify(token(12)), 'checkpoint moved');
    });

    it('a function policy delivers its Observable first (no checkpoint moves), then continues live', async () => {
      const { stream, store, status } = await lostStream({
        onHistoryLost: (info) =>
          of({ _id: { _data: 'resync' }, operationType: 'resync', n: -(info.token as { _data: string })._data.length }),
      });
      const sub = collect(stream);
      subscriptions.push(sub.subscription);
      await until(() => status.types().includes('opened'), 'opened');
      expect(sub.ops).toEqual(['resync']);
      expect(await store.load('k')).toEqual(token(2));
      server.write(1);
      await until(() => sub.seen.length === 2, 'live event after the replacement');
      expect(sub.ops).toEqual(['resync', 'insert']);
      expect(ofType(status.log, 'historyLost')).toHaveLength(1);
      expect(ofType(status.log, 'historyLost')[0].policy).toBe('function');
    });

    it("a function policy's error errors the stream", async () => {
      const nope = new Error('cannot resync');
      const { stream } = await lostStream({ onHistoryLost: () => Promise.reject(nope) });
      const sub = collect(stream);
      await until(() => sub.errors.length === 1, 'error');
      expect(sub.errors[0]).toBe(nope);
    });

    it('never spins on a loss that keeps happening: each occurrence waits a growing backoff', async () => {
      server.write(3);
      server.historyStart = 1_000; // every open fails, even from now
      const stream = new RxChangeStream(server.open, [], {
        onHistoryLost: 'restartFromNow',
        retry: { ...fastRetry, maxAttempts: 4 },
      });
      const status = recordStatus(stream);
      const sub = collect(stream);
      await until(() => sub.errors.length === 1, 'gives up');
      expect(ofType(status.log, 'historyLost')).toHaveLength(5);
      expect(ofType(status.log, 'retrying').map((s) => s.delayMS)).toEqual([5, 10, 20, 40]);
    });
  });

  describe('invalidate', () => {
    it("'complete' (default) delivers the invalidate, saves its token and completes", async () => {
      const store = new MemoryCheckpointStore();
      const stream = new RxChangeStream(server.open, [], { checkpoint: { store, key: 'k' } });
      const status = recordStatus(stream);
      const sub = collect(stream);
      await until(() => status.types().includes('opened'), 'opened');
      server.write(2);
      server.write(1, { operationType: 'invalidate' });
      await until(() => sub.completed(), 'completed');
      expect(sub.ops).toEqual(['insert', 'insert', 'invalidate']);
      expect(await store.load('k')).toEqual(token(3));
      expect(status.types().filter((t) => t !== 'checkpointed')).toEqual(['acquired', 'opened', 'invalidated', 'closed']);
      expect(ofType(status.log, 'closed')[0].reason).toBe('completed');
    });

    it("'restart' continues with startAfter the invalidate", async () => {
      const stream = new RxChangeStream(server.open, [], { onInvalidate: 'restart' });
      const status = recordStatus(stream);
      const sub = collect(stream);
      subscriptions.push(sub.subscription);
      await until(() => status.types().includes('opened'), 'opened');
      server.write(1, { operationType: 'invalidate' });
      await until(() => server.opened.length === 2, 'reopened');
      expect(server.opened[1].options.startAfter).toEqual(token(1));
      server.write(1);
      await until(() => sub.seen.length === 2, 'event after the restart');
      expect(sub.completed()).toBe(false);
      expect(status.types()).toEqual(['opened', 'invalidated']);
    });
  });
});
