/**
 * consume(handler, { onHandlerError }) and replay() on the run's backend:
 * retries with backoff and a limit, parking into a dead-letter collection
 * (once per change, even across a restart), and feeding parked changes back.
 */
import type { ChangeStreamInsertDocument } from 'mongodb';
import { lastValueFrom, toArray, type Subscription } from 'rxjs';
import { replay, type DeadLetter } from '../../lib/change-stream';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../lib/checkpoint/collection';
import { eventually, settle } from './client-monitor';
import { fixture, insertNumbers, nextStatus, range, statusLog, type Fixture, type Numbered } from './watch-support';

let f: Fixture;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  f = await fixture('deadletters');
});

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
});

type Insert = ChangeStreamInsertDocument<Numbered>;
const n = (change: unknown): number => (change as Insert).fullDocument.n;
const fast = { initialDelayMS: 5, maxDelayMS: 20 };

function checkpointed(key: string) {
  const store = new CollectionCheckpointStore(f.m.client.driver.db(f.numbers.dbName).collection<CheckpointDocument>('checkpoints'));
  return f.numbers.watch([{ $match: { operationType: 'insert' } }], { maxAwaitTimeMS: 100, checkpoint: { store, key, every: { events: 1, ms: 60_000 } } });
}

describe("consume() with onHandlerError: 'retry'", () => {
  it('runs the handler again after a backoff, reporting each retry, and goes on in order', async () => {
    const stream = checkpointed('retry');
    const log = statusLog(stream);
    const handled: number[] = [];
    let failures = 0;
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(
      stream
        .consume(
          (change) => {
            if (n(change) === 3 && failures < 2) {
              failures += 1;
              throw new Error(`flaky ${failures}`);
            }
            handled.push(n(change));
          },
          { onHandlerError: { retry: { maxAttempts: 3, ...fast } } },
        )
        .subscribe(),
    );
    await opened;
    await insertNumbers(f.numbers, 1, 5);
    await eventually(() => handled.length === 5, 'all handled');
    expect(handled).toEqual(range(1, 5));
    const retries = log.filter((s) => s.type === 'handlerError');
    expect(retries).toMatchObject([
      { action: 'retry', attempt: 1, error: { message: 'flaky 1' } },
      { action: 'retry', attempt: 2, error: { message: 'flaky 2' } },
    ]);
    for (const retry of retries) expect(retry.type === 'handlerError' && retry.delayMS).toBeGreaterThan(0);
  });

  it('stops with the handler error once the attempts are spent, the last completed change checkpointed', async () => {
    const stream = checkpointed('retry-limit');
    const attempts: number[] = [];
    const opened = nextStatus(stream, 'opened');
    const outcome = lastValueFrom(
      stream.consume(
        (change) => {
          attempts.push(n(change));
          if (n(change) === 3) throw new Error('always');
        },
        { onHandlerError: { retry: { maxAttempts: 2, ...fast } } },
      ),
      { defaultValue: undefined },
    ).catch((error: unknown) => error);
    await opened;
    await insertNumbers(f.numbers, 1, 5);
    expect(await outcome).toMatchObject({ message: 'always' });
    expect(attempts).toEqual([1, 2, 3, 3]);

    // A new consumer starts with the change that failed.
    const again = checkpointed('retry-limit');
    const seen: number[] = [];
    subscriptions.push(again.consume((change) => void seen.push(n(change))).subscribe());
    await eventually(() => seen.length === 3, 'resumed');
    expect(seen).toEqual([3, 4, 5]);
  });
});

describe("consume() with onHandlerError: 'park'", () => {
  it('writes the change and the error to deadLetters and goes on; parking it again after a restart keeps one letter', async () => {
    const deadLetters = f.m.client.db(f.numbers.dbName).collection<DeadLetter<Insert>>('dead');
    const handled: number[] = [];
    const failing = (change: unknown): void => {
      if (n(change) % 4 === 0) throw Object.assign(new Error(`bad ${n(change)}`), { code: 'E_BAD' });
      handled.push(n(change));
    };
    const stream = checkpointed('park');
    const log = statusLog(stream);
    const opened = nextStatus(stream, 'opened');
    const first = stream.consume(failing, { onHandlerError: 'park', deadLetters }).subscribe();
    await opened;
    await insertNumbers(f.numbers, 1, 10);
    await eventually(() => handled.length === 8, 'all but the parked handled');
    expect(handled).toEqual([1, 2, 3, 5, 6, 7, 9, 10]);
    expect(log.filter((s) => s.type === 'handlerError').map((s) => s.type === 'handlerError' && s.action)).toEqual(['park', 'park']);
    const letters = await lastValueFrom(deadLetters.find({}, { sort: { at: 1 } }).pipe(toArray()));
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({ event: { operationType: 'insert', fullDocument: { n: 4 } }, error: { name: 'Error', message: 'bad 4', code: 'E_BAD' }, attempts: 1, key: 'park' });
    expect(letters[0]._id).toEqual(letters[0].event._id);
    expect(letters[0].at).toBeInstanceOf(Date);

    // Forget the checkpoint: a new consumer meets the same changes again, and parks them onto the same letters.
    const closed = nextStatus(stream, 'closed');
    first.unsubscribe();
    await closed;
    const store = new CollectionCheckpointStore(f.m.client.driver.db(f.numbers.dbName).collection<CheckpointDocument>('checkpoints'));
    const replayed = f.numbers.watch([{ $match: { operationType: 'insert' } }], {
      maxAwaitTimeMS: 100,
      startAfter: letters[0].event._id,
      checkpoint: { store, key: 'park-again' },
    });
    handled.length = 0;
    subscriptions.push(replayed.consume(failing, { onHandlerError: 'park', deadLetters }).subscribe());
    await eventually(() => handled.length === 5, 'handled again');
    await settle(100);
    expect(await lastValueFrom(deadLetters.countDocuments())).toBe(2);
  });

  it('refuses a bad policy, park without deadLetters and deadLetters without park, at the call', () => {
    const stream = f.numbers.watch([]);
    const handler = (): void => undefined;
    const deadLetters = f.m.client.db(f.numbers.dbName).collection('dead');
    expect(() => stream.consume(handler, { onHandlerError: 'park' })).toThrow(/deadLetters must be a driver Collection or an RxCollection, got undefined/);
    expect(() => stream.consume(handler, { deadLetters })).toThrow(/deadLetters is used only with onHandlerError 'park'/);
    expect(() => stream.consume(handler, { onHandlerError: 'ignore' as never })).toThrow(/onHandlerError must be 'stop' or 'retry' or 'park'/);
    expect(() => stream.consume(handler, { onHandlerError: { retry: { maxAttempts: 0 } } })).toThrow(RangeError);
    expect(() => stream.consume(handler, { onHandlerError: { retry: { tries: 2 } as never } })).toThrow(/has no option "tries"/);
    expect(() => stream.consume(handler, { onHandlerError: 'park', deadLetters: {} as never })).toThrow(TypeError);
    expect(() => stream.consume(handler, { onHandlerError: { then: 'park' }, deadLetters })).not.toThrow();
    expect(() => stream.consume(handler, { onHandlerError: 'park', deadLetters: deadLetters.driver })).not.toThrow();
  });
});

describe('replay()', () => {
  async function park(count: number): Promise<DeadLetter<Insert>[]> {
    const deadLetters = f.m.client.db(f.numbers.dbName).collection<DeadLetter<Insert>>('dead');
    const stream = f.numbers.watch([{ $match: { operationType: 'insert' } }], { maxAwaitTimeMS: 100 });
    const opened = nextStatus(stream, 'opened');
    const consumer = stream
      .consume(
        () => {
          throw new Error('down');
        },
        { onHandlerError: 'park', deadLetters },
      )
      .subscribe();
    await opened;
    await insertNumbers(f.numbers, 1, count);
    for (let tries = 0; (await deadLetters.driver.countDocuments()) < count; tries += 1) {
      if (tries > 200) throw new Error('timed out waiting for the letters');
      await settle(20);
    }
    const letters = await lastValueFrom(deadLetters.find().pipe(toArray()));
    consumer.unsubscribe();
    return letters;
  }

  it('feeds parked changes back oldest first, deletes each once handled, emits what the handler emits', async () => {
    await park(4);
    const deadLetters = f.m.client.db(f.numbers.dbName).collection('dead');
    expect(await lastValueFrom(deadLetters.countDocuments())).toBe(4);
    const seen: Array<[number, number]> = [];
    const out = replay<Insert, number>(deadLetters, (change, letter) => {
      seen.push([change.fullDocument.n, letter.attempts]);
      return Promise.resolve(change.fullDocument.n * 10);
    });
    expect(await lastValueFrom(deadLetters.countDocuments())).toBe(4); // cold: nothing before subscribe
    expect(await lastValueFrom(out.pipe(toArray()))).toEqual([10, 20, 30, 40]);
    expect(seen).toEqual([[1, 1], [2, 1], [3, 1], [4, 1]]);
    expect(await lastValueFrom(deadLetters.countDocuments())).toBe(0);
  });

  it('stops at a handler error, keeping that letter and the ones after it; a filter picks letters', async () => {
    await park(4);
    const deadLetters = f.m.client.db(f.numbers.dbName).collection<DeadLetter<Insert>>('dead');
    const failing = replay<Insert>(deadLetters.driver, (change) => {
      if (change.fullDocument.n === 3) throw new Error('still broken');
    });
    await expect(lastValueFrom(failing, { defaultValue: undefined })).rejects.toThrow('still broken');
    const left = await lastValueFrom(deadLetters.find({}, { sort: { at: 1 } }).pipe(toArray()));
    expect(left.map((l) => l.event.fullDocument.n)).toEqual([3, 4]);

    const only4 = replay<Insert>(deadLetters, () => undefined, { filter: { 'event.fullDocument.n': 4 } });
    await lastValueFrom(only4, { defaultValue: undefined });
    expect((await lastValueFrom(deadLetters.find().pipe(toArray()))).map((l) => l.event.fullDocument.n)).toEqual([3]);
  });

  it('refuses anything but a collection, and a missing handler, at the call', () => {
    expect(() => replay({} as never, () => undefined)).toThrow(/deadLetters must be a driver Collection or an RxCollection/);
    expect(() => replay(f.m.client.db('x').collection('dead'), undefined as never)).toThrow(TypeError);
  });
});
