/**
 * onHandlerError: the policy table (resolution and the step after each
 * failed attempt), and on a fake server the ordering rules — a parked change
 * counts as handled only once its dead letter is written, and a retry's
 * backoff ends the moment the subscription does.
 */
import type { Collection, Document } from 'mongodb';
import { RxChangeStream } from '../../../lib/change-stream';
import { nextStep, resolveHandlerErrors } from '../../../lib/change-stream/handler-errors';
import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { FakeServer, token } from './fake-server';
import { recordStatus, until } from './helpers';

const letters = { collectionName: 'dead', replaceOne: async () => ({}) } as unknown as Collection<Document>;

describe('onHandlerError policies', () => {
  it("resolves 'stop', 'retry', 'park' and { retry, then } with their defaults", () => {
    expect(resolveHandlerErrors(undefined, undefined)).toBeUndefined();
    expect(resolveHandlerErrors('stop', undefined)).toBeUndefined();
    expect(resolveHandlerErrors('retry', undefined)).toEqual({
      retry: { maxAttempts: 3, initialDelayMS: 100, maxDelayMS: 10_000, factor: 2, jitter: 0.5 },
      then: 'stop',
      deadLetters: undefined,
    });
    expect(resolveHandlerErrors('park', letters)).toMatchObject({ retry: { maxAttempts: 1 }, then: 'park', deadLetters: letters });
    expect(resolveHandlerErrors({ retry: { maxAttempts: 5, jitter: 0 }, then: 'park' }, { driver: letters })).toMatchObject({
      retry: { maxAttempts: 5, jitter: 0 },
      then: 'park',
      deadLetters: letters,
    });
    expect(resolveHandlerErrors({ then: 'park' }, letters)).toMatchObject({ retry: { maxAttempts: 1 }, then: 'park' });
  });

  it('retries with a growing backoff while attempts are left, then stops or parks', () => {
    const retry = resolveHandlerErrors({ retry: { maxAttempts: 3, initialDelayMS: 10, maxDelayMS: 15, jitter: 0 } }, undefined);
    expect([1, 2, 3].map((attempt) => nextStep(retry, attempt))).toEqual([{ retryInMS: 10 }, { retryInMS: 15 }, 'stop']);
    const park = resolveHandlerErrors({ retry: { maxAttempts: 2, initialDelayMS: 10, jitter: 0 }, then: 'park' }, letters);
    expect([1, 2].map((attempt) => nextStep(park, attempt))).toEqual([{ retryInMS: 10 }, 'park']);
    expect(nextStep(undefined, 1)).toBe('stop');
    expect(nextStep(resolveHandlerErrors({ retry: { maxAttempts: Infinity } }, undefined), 1e6)).toHaveProperty('retryInMS');
  });

  it.each<[string, unknown, unknown, ErrorConstructor, RegExp]>([
    ['an unknown name', 'skip', undefined, TypeError, /onHandlerError must be 'stop' or 'retry' or 'park' or \{ retry, then \}, got "skip"/],
    ['park without deadLetters', 'park', undefined, TypeError, /deadLetters must be a driver Collection or an RxCollection, got undefined/],
    ['deadLetters with stop', 'stop', letters, TypeError, /deadLetters is used only with onHandlerError 'park'/],
    ['deadLetters with retry then stop', 'retry', letters, TypeError, /deadLetters is used only/],
    ['an unknown key', { retry: {}, after: 'park' }, undefined, TypeError, /onHandlerError has no option "after"/],
    ['a bad then', { then: 'drop' }, undefined, TypeError, /onHandlerError.then must be 'stop' or 'park'/],
    ['maxAttempts 0', { retry: { maxAttempts: 0 } }, undefined, RangeError, /maxAttempts must be an integer ≥ 1/],
    ['a NaN delay', { retry: { initialDelayMS: NaN } }, undefined, RangeError, /initialDelayMS must be a duration.*got NaN/],
    ['maxDelayMS below initialDelayMS', { retry: { initialDelayMS: 50, maxDelayMS: 10 } }, undefined, RangeError, /maxDelayMS \(10\) must be at least initialDelayMS \(50\)/],
    ['a number as deadLetters', 'park', 7, TypeError, /deadLetters must be a driver Collection or an RxCollection, got 7/],
  ])('refuses %s', (_name, policy, deadLetters, type, message) => {
    expect(() => resolveHandlerErrors(policy, deadLetters)).toThrow(type);
    expect(() => resolveHandlerErrors(policy, deadLetters)).toThrow(message);
  });
});

describe('onHandlerError on a fake server', () => {
  let server: FakeServer;
  beforeEach(() => {
    server = new FakeServer();
  });
  afterEach(async () => {
    await until(() => server.live.length === 0, 'every fake cursor closed');
  });

  it('a parked change counts as handled only once its dead letter is written', async () => {
    let written!: () => void;
    const writes: Document[] = [];
    const slowLetters = {
      collectionName: 'dead',
      replaceOne: (filter: Document, letter: Document) => {
        writes.push({ filter, letter });
        return new Promise<void>((resolve) => (written = resolve));
      },
    } as unknown as Collection<Document>;
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store, key: 'k', every: { events: 1, ms: 60_000 } } });
    const status = recordStatus(stream);
    const handled: number[] = [];
    const subscription = stream
      .consume(
        (change) => {
          if (change.n === 2) throw new Error('two');
          handled.push(change.n);
        },
        { onHandlerError: 'park', deadLetters: slowLetters },
      )
      .subscribe();
    await until(() => status.types().includes('opened'), 'opened');
    server.write(3);
    await until(() => writes.length === 1, 'the letter being written');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toEqual([1]);
    expect(await store.load('k')).toEqual(token(1));
    expect(writes[0]).toMatchObject({ filter: { _id: token(2) }, letter: { event: { n: 2 }, error: { name: 'Error', message: 'two' }, attempts: 1, key: 'k' } });
    written();
    await until(() => handled.length === 2, 'the next change handled');
    await until(async () => JSON.stringify(await store.load('k')) === JSON.stringify(token(3)), 'the checkpoint past the parked change');
    expect(status.log.filter((s) => s.type === 'handlerError')).toMatchObject([{ action: 'park', attempt: 1 }]);
    subscription.unsubscribe();
  });

  it('unsubscribing during a retry backoff ends at once, without another attempt', async () => {
    const stream = new RxChangeStream(server.open, []);
    const status = recordStatus(stream);
    let attempts = 0;
    const subscription = stream
      .consume(
        () => {
          attempts += 1;
          throw new Error('down');
        },
        { onHandlerError: { retry: { maxAttempts: 5, initialDelayMS: 60_000, maxDelayMS: 60_000 } } },
      )
      .subscribe();
    await until(() => status.types().includes('opened'), 'opened');
    server.write(1);
    await until(() => status.types().includes('handlerError'), 'the first failure');
    const started = Date.now();
    subscription.unsubscribe();
    await until(() => status.types().includes('closed'), 'closed');
    expect(Date.now() - started).toBeLessThan(1_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(attempts).toBe(1);
  });
});
