/**
 * consume() on a fake server: ordered one-at-a-time handling, read-ahead
 * bounded by highWaterMark (measured), acknowledgement-driven checkpoints,
 * handler errors, restarts without loss, and the one-writer rule.
 */
import { MongoNetworkError } from 'mongodb';
import { firstValueFrom, lastValueFrom, map, of, Subject, timer, toArray, type Subscription } from 'rxjs';
import { RxChangeStream } from '../../../lib/change-stream';
import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { CheckpointInUseError } from '../../../lib/errors';
import { FakeServer, token, type FakeChange } from './fake-server';
import { fastRetry, recordStatus, until } from './helpers';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

describe('RxChangeStream.consume (fake server)', () => {
  let server: FakeServer;
  const subscriptions: Subscription[] = [];
  beforeEach(() => {
    server = new FakeServer();
  });
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    await until(() => server.live.length === 0, 'every fake cursor closed');
  });

  it('handles one event at a time, in order, and emits what the handlers emit', async () => {
    server.write(0);
    const stream = new RxChangeStream(server.open, [], { retry: fastRetry });
    const status = recordStatus(stream);
    let running = 0;
    let maxRunning = 0;
    const output = lastValueFrom(
      stream
        .consume((change) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          return timer(change.n % 3).pipe(map(() => {
            running -= 1;
            return change.n * 10;
          }));
        })
        .pipe(toArray()),
    );
    await until(() => status.types().includes('opened'), 'opened');
    server.write(20);
    server.write(1, { operationType: 'invalidate' });
    const values = await output;
    expect(values).toEqual([...range(1, 21).map((n) => n * 10)]);
    expect(maxRunning).toBe(1);
  });

  it.each([1, 4, 10])('holds at most highWaterMark = %i events in memory under a slow handler', async (highWaterMark) => {
    const stream = new RxChangeStream(server.open, [], { retry: fastRetry });
    const status = recordStatus(stream);
    let completed = 0;
    let maxHeld = 0;
    const sample = (): void => {
      maxHeld = Math.max(maxHeld, server.fetched - completed);
    };
    server.onBatch = sample;
    const handled: number[] = [];
    subscriptions.push(
      stream
        .consume(
          (change) => {
            sample();
            return new Promise<void>((resolve) =>
              setTimeout(() => {
                handled.push(change.n);
                completed += 1;
                resolve();
              }, 1),
            );
          },
          { highWaterMark },
        )
        .subscribe(),
    );
    await until(() => status.types().includes('opened'), 'opened');
    server.write(60);
    await until(() => handled.length === 60, 'all handled', 10_000);
    expect(handled).toEqual(range(1, 60));
    expect(maxHeld).toBeLessThanOrEqual(highWaterMark);
    // The measure is not vacuous: the reader did read ahead when the mark allowed it.
    if (highWaterMark > 1) expect(maxHeld).toBeGreaterThan(1);
  });

  it('checkpoints only completed events; a handler error ends it with the last completed one saved', async () => {
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], {
      checkpoint: { store, key: 'k', every: { events: 1000, ms: 60_000 } },
    });
    const status = recordStatus(stream);
    const failure = new Error('handler failed on 7');
    const gate = new Subject<void>();
    let savedWhenErrored: unknown = 'not errored';
    const errored = new Promise<void>((resolve) =>
      subscriptions.push(
        stream
          .consume((change) => {
            if (change.n === 7) throw failure;
            if (change.n === 3) return firstValueFrom(gate);
            return undefined;
          })
          .subscribe({
            error: (e: unknown) => {
              expect(e).toBe(failure);
              void store.load('k').then((t) => {
                savedWhenErrored = t;
                resolve();
              });
            },
          }),
      ),
    );
    await until(() => status.types().includes('opened'), 'opened');
    server.write(10);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(stream.resumeToken).toEqual(token(2));
    gate.next();
    await errored;
    expect(savedWhenErrored).toEqual(token(6));
    expect(status.types().filter((t) => t !== 'checkpointed')).toEqual(['acquired', 'opened', 'closed']);
  });

  it('restarts after the last checkpoint: zero loss, duplicates at most every.events per stop', async () => {
    const store = new MemoryCheckpointStore();
    const options = { checkpoint: { store, key: 'proj', every: { events: 5, ms: 60_000 } } };
    const seen: number[] = [];
    const first = new RxChangeStream(server.open, [], options);
    const status = recordStatus(first);
    const run = first.consume((c) => void seen.push(c.n)).subscribe();
    await until(() => status.types().includes('opened'), 'opened');
    server.write(13);
    await until(() => seen.length === 13, 'first run handled 13');
    run.unsubscribe();
    await until(() => status.types().includes('closed'), 'closed');
    server.write(4);
    const second = new RxChangeStream(server.open, [], options);
    subscriptions.push(second.consume((c) => void seen.push(c.n)).subscribe());
    await until(() => seen.includes(17), 'second run caught up');
    expect(new Set(seen)).toEqual(new Set(range(1, 17)));
    expect(seen.length - 17).toBeLessThanOrEqual(5);
  });

  it('never has more than every.events handled events unsaved while a save is slow', async () => {
    const slow = new MemoryCheckpointStore();
    const save = slow.save.bind(slow);
    const saved: number[] = [];
    slow.save = async (key, tok) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await save(key, tok);
      saved.push(Number((tok as { _data: string })._data.slice(1)));
    };
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store: slow, key: 'k', every: { events: 4, ms: 60_000 } } });
    const status = recordStatus(stream);
    let maxUnsaved = 0;
    const handled: number[] = [];
    subscriptions.push(
      stream
        .consume((c) => {
          maxUnsaved = Math.max(maxUnsaved, handled.length - (saved[saved.length - 1] ?? 0));
          handled.push(c.n);
        })
        .subscribe(),
    );
    await until(() => status.types().includes('opened'), 'opened');
    server.write(30);
    await until(() => handled.length === 30, 'handled 30');
    expect(maxUnsaved).toBeLessThanOrEqual(4);
  });

  it('keeps read-ahead events across a restart after a surfaced error: each handled exactly once', async () => {
    const stream = new RxChangeStream(server.open, [], { retry: fastRetry });
    const status = recordStatus(stream);
    const handled: number[] = [];
    subscriptions.push(
      stream
        .consume((c) => new Promise<void>((resolve) => setTimeout(() => resolve(void handled.push(c.n)), 1)), { highWaterMark: 6 })
        .subscribe(),
    );
    await until(() => status.types().includes('opened'), 'opened');
    server.write(10);
    await until(() => handled.length >= 2, 'handling started');
    server.fail('getMore', new MongoNetworkError('outage'));
    server.write(10);
    await until(() => handled.length === 20, 'all handled');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(handled).toEqual(range(1, 20));
    expect(status.types()).toEqual(['opened', 'retrying', 'resumed']);
  });

  it('one consumer per checkpoint key: a second waits as a standby and takes over, or errors with lease.wait false', async () => {
    const store = new MemoryCheckpointStore();
    const options = { checkpoint: { store, key: 'k', lease: { ttlMS: 300 } } };
    const stream = new RxChangeStream(server.open, [], options);
    const status = recordStatus(stream);
    const first = stream.consume(() => undefined).subscribe();
    await until(() => status.types().includes('opened'), 'first opened');
    const impatient = new RxChangeStream(server.open, [], { checkpoint: { ...options.checkpoint, lease: { wait: false } } });
    await expect(firstValueFrom(impatient.consume(() => undefined))).rejects.toBeInstanceOf(CheckpointInUseError);
    await expect(firstValueFrom(impatient)).rejects.toBeInstanceOf(CheckpointInUseError);
    // The shared subscription of the same stream is a consumer too: it waits.
    const seen: number[] = [];
    subscriptions.push(stream.subscribe((c) => seen.push(c.n)));
    await until(() => status.types().includes('standby'), 'standby');
    expect(server.opened).toHaveLength(1);
    first.unsubscribe();
    await until(() => status.types().filter((t) => t === 'opened').length === 2, 'the standby took over');
    expect(status.types().filter((t) => t === 'acquired' || t === 'standby' || t === 'opened' || t === 'closed')).toEqual([
      'acquired', 'opened', 'standby', 'closed', 'acquired', 'opened',
    ]);
    server.write(2);
    await until(() => seen.length === 2, 'the new holder delivers');
    const plain = new RxChangeStream(server.open);
    const a = plain.consume(() => of(1)).subscribe();
    const b = plain.consume(() => of(2)).subscribe();
    subscriptions.push(a, b);
    await until(() => server.opened.length === 4, 'without a checkpoint, each consume has its own cursor');
  });

  it('unsubscribing drops the handler in flight, closes the cursor and saves the acknowledged position', async () => {
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store, key: 'k', every: { events: 100 } } });
    const status = recordStatus(stream);
    const never = new Subject<void>();
    const run = stream.consume((c) => (c.n === 4 ? never : undefined)).subscribe();
    await until(() => status.types().includes('opened'), 'opened');
    server.write(6);
    await until(() => never.observed, 'handler of 4 running');
    run.unsubscribe();
    expect(never.observed).toBe(false);
    await until(() => status.types().includes('closed'), 'closed');
    expect(await store.load('k')).toEqual(token(3));
    expect(server.count('killCursors')).toBe(1);
    expect(sameJson(stream.resumeToken, token(3))).toBe(true);
  });
});
