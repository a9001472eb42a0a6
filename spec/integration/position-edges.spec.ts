/**
 * The edges of the at-least-once path (issue "one owner of the position"),
 * each on the run's backend: a plain-value handler, the opening position
 * stored before the first change, missing vs corrupt checkpoints, one
 * consumer per key across clients with fenced saves, history lost while
 * reading (136), store calls that never settle, timers, and `every.events`
 * honoured by plain subscribers.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Collection, MongoClient } from 'mongodb';
import { firstValueFrom, lastValueFrom, Subject, take, toArray, type Subscription } from 'rxjs';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../lib/checkpoint/collection';
import type { CheckpointStore } from '../../lib/checkpoint/store';
import { RxMongoClient } from '../../lib/client/client';
import { CheckpointCorruptError, CheckpointLeaseLostError, CheckpointTimeoutError } from '../../lib/errors';
import { ReplicaSet } from '../server';
import { backend, describeWith, driverClient, uniqueDbName } from '../support/backend';
import { eventually, settle } from './client-monitor';
import { fixture, insertNumbers, nextStatus, numberOf, range, statusLog, type Fixture } from './watch-support';

let f: Fixture;
let admin: MongoClient;
const subscriptions: Subscription[] = [];

beforeAll(async () => {
  admin = driverClient();
  await admin.connect();
});
afterAll(() => admin.close());
beforeEach(async () => {
  f = await fixture('edges');
});
afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
});

function checkpoints(): Collection<CheckpointDocument> {
  return admin.db(f.numbers.dbName).collection<CheckpointDocument>('checkpoints', { writeConcern: { w: 'majority' } });
}

describe('edge 1: a consume() handler returning a plain value', () => {
  it('counts as done at once: every change is handled, in order, and the value is emitted', async () => {
    const projection = new Map<number, number>();
    const apply = (n: number): number => {
      projection.set(n, n * n);
      return projection.size; // what the README's projection.apply returns: a plain value
    };
    const stream = f.numbers.watch();
    const opened = nextStatus(stream, 'opened');
    const emitted = lastValueFrom(stream.consume((c) => apply(numberOf(c))).pipe(take(30), toArray()));
    await opened;
    await insertNumbers(f.numbers, 1, 30);
    await expect(emitted).resolves.toEqual(range(1, 30));
    expect([...projection.keys()]).toEqual(range(1, 30));
  });
});

describe('edge 3: the opening position is stored before the first change is delivered', () => {
  it('a restart from the store at any moment after opened loses nothing written since', async () => {
    const store = new CollectionCheckpointStore(checkpoints());
    const stream = f.numbers.watch([], { checkpoint: { store, key: 'first-run', every: { events: 1000, ms: 600_000 } } });
    const opened = nextStatus(stream, 'opened');
    const handled: number[] = [];
    subscriptions.push(stream.consume((c) => void handled.push(numberOf(c))).subscribe());
    await opened;
    // As if the consumer died right now: what would its successor start from?
    const stored = await store.load('first-run');
    expect(stored).toBeDefined();
    await insertNumbers(f.numbers, 1, 12);
    const successor = f.numbers.watch([], { startAfter: stored });
    await expect(firstValueFrom(successor.pipe(take(12), toArray()))).resolves.toHaveLength(12);
    await eventually(() => handled.length === 12, 'the consumer handled them too');
  });
});

describe('edge 4: a checkpoint that exists but cannot be read', () => {
  it.each([
    ['a null token', { token: null, savedAt: new Date(), fence: 3 }],
    ['a missing token', { savedAt: new Date(), fence: 3 }],
  ])('with %s errors the stream with CheckpointCorruptError and opens no cursor (never a restart from now)', async (_what, fields) => {
    const collection = checkpoints();
    await collection.insertOne({ _id: 'damaged', ...(fields as Partial<CheckpointDocument>) });
    const stream = f.numbers.watch([], { checkpoint: { store: new CollectionCheckpointStore(collection), key: 'damaged' } });
    await expect(firstValueFrom(stream.consume(() => undefined))).rejects.toBeInstanceOf(CheckpointCorruptError);
    expect(f.m.commands('aggregate')).toHaveLength(0);
  });

  it('with no checkpoint at all, starts per checkpoint.start', async () => {
    await insertNumbers(f.numbers, 1, 3);
    const session = f.m.client.driver.startSession();
    await f.numbers.driver.insertOne({ n: 4 }, { session });
    const operationTime = session.operationTime!;
    await session.endSession();
    await insertNumbers(f.numbers, 5, 6);
    const store = new CollectionCheckpointStore(checkpoints());
    const stream = f.numbers.watch([], { checkpoint: { store, key: 'from-time', start: operationTime } });
    await expect(lastValueFrom(stream.pipe(take(3), toArray())).then((cs) => cs.map(numberOf))).resolves.toEqual([4, 5, 6]);
  });
});

describe('edge 5: one consumer per key, across clients', () => {
  it('a second client waits as a standby, then continues from the first one’s checkpoint: nothing lost', async () => {
    const other = new RxMongoClient(backend().uri, { serverSelectionTimeoutMS: 10_000 });
    try {
      const options = { checkpoint: { key: 'shared', every: { events: 5, ms: 100 }, lease: { ttlMS: 600 } } };
      const a = f.numbers.watch([], { checkpoint: { ...options.checkpoint, store: new CollectionCheckpointStore(checkpoints()) } });
      const b = other
        .db(f.numbers.dbName)
        .collection<{ n: number }>('numbers')
        .watch([], { checkpoint: { ...options.checkpoint, store: new CollectionCheckpointStore(checkpoints()) } });
      const aStatus = statusLog(a);
      const bStatus = statusLog(b);
      const handled: Array<[string, number]> = [];
      const aRun = a.consume((c) => void handled.push(['a', numberOf(c)])).subscribe();
      await nextStatus(a, 'opened');
      subscriptions.push(b.consume((c) => void handled.push(['b', numberOf(c)])).subscribe());
      await eventually(() => bStatus.some((s) => s.type === 'standby'), 'b waits');
      await insertNumbers(f.numbers, 1, 20);
      await eventually(() => handled.length === 20, 'a handled 20');
      aRun.unsubscribe();
      await eventually(() => aStatus.some((s) => s.type === 'closed'), 'a closed');
      await insertNumbers(f.numbers, 21, 30);
      await eventually(() => handled.some(([who, n]) => who === 'b' && n === 30), 'b took over', 15_000);
      expect(handled.filter(([who]) => who === 'a').map(([, n]) => n)).toEqual(range(1, 20));
      expect(handled.filter(([who]) => who === 'b').map(([, n]) => n)).toEqual(range(21, 30));
      const fences = [...aStatus, ...bStatus].filter((s) => s.type === 'acquired').map((s) => (s as { fence: number }).fence);
      expect(fences).toEqual([1, 2]);
    } finally {
      await lastValueFrom(other.close());
    }
  });

  it('a holder that lost its lease while unaware is refused at its next save: it reports leaseLost, stops, and the position never moves back', async () => {
    const collection = checkpoints();
    const honest = new CollectionCheckpointStore(collection);
    // A holder cut off from the store (GC pause, partition): its renewals never reach it.
    const cutOff: CheckpointStore = Object.assign(Object.create(honest) as CheckpointStore, {
      renew: async (lease: never) => lease,
    });
    const a = f.numbers.watch([], { checkpoint: { store: cutOff, key: 'fenced', every: { events: 1, ms: 50 }, lease: { ttlMS: 400 } } });
    const aStatus = statusLog(a);
    const gate = new Subject<void>();
    let aErrored: unknown;
    subscriptions.push(
      a.consume((c) => (numberOf(c) === 3 ? firstValueFrom(gate) : undefined)).subscribe({ error: (e: unknown) => (aErrored = e) }),
    );
    await nextStatus(a, 'opened');
    await insertNumbers(f.numbers, 1, 5);
    await eventually(() => aStatus.filter((s) => s.type === 'checkpointed').length >= 3, 'a saved 2');
    const b = f.numbers.watch([], { checkpoint: { store: honest, key: 'fenced', every: { events: 1, ms: 50 }, lease: { ttlMS: 400 } } });
    const handledByB: number[] = [];
    subscriptions.push(b.consume((c) => void handledByB.push(numberOf(c))).subscribe());
    await eventually(() => handledByB.length >= 3, 'b took over after a’s lease expired', 15_000);
    const stored = (await collection.findOne({ _id: 'fenced' }))!;
    gate.next(); // a wakes up and acknowledges 3: its save carries the old fence
    await eventually(() => aErrored !== undefined, 'a stopped');
    expect(aErrored).toBeInstanceOf(CheckpointLeaseLostError);
    expect(aStatus.map((s) => s.type)).toContain('leaseLost');
    expect(handledByB).toEqual([3, 4, 5]);
    const after = (await collection.findOne({ _id: 'fenced' }))!;
    expect(after.fence).toBe(stored.fence);
    const data = (doc: CheckpointDocument): string => (doc.token as { _data: string })._data;
    expect(data(after) >= data(stored)).toBe(true);
  });
});

describeWith(['historyControl'], 'edge 6: history lost while reading (CappedPositionLost, 136)', () => {
  let rs: ReplicaSet;
  let own: RxMongoClient;
  beforeEach(async () => {
    rs = await ReplicaSet.start({ members: 1, historySize: 8 });
    own = new RxMongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
  });
  afterEach(async () => {
    await lastValueFrom(own.close());
    await rs.close();
  });

  it('goes through onHistoryLost like 286: reported, then the stream restarts from the moment of loss', async () => {
    const numbers = own.db('history').collection<{ n: number }>('numbers');
    await own.db('history').driver.createCollection('numbers');
    const stream = numbers.watch([], { onHistoryLost: 'restartFromNow', retry: { initialDelayMS: 10, maxDelayMS: 10, jitter: 0 } });
    const status = statusLog(stream);
    const gate = new Subject<void>();
    const handled: number[] = [];
    const errors: unknown[] = [];
    subscriptions.push(
      stream
        .consume((c) => (numberOf(c) === 1 ? firstValueFrom(gate).then(() => void handled.push(1)) : void handled.push(numberOf(c))), {
          highWaterMark: 2,
        })
        .subscribe({ error: (e: unknown) => errors.push(e) }),
    );
    await nextStatus(stream, 'opened');
    await numbers.driver.insertOne({ n: 1 });
    await eventually(() => gate.observed, 'handler of 1 waiting');
    await numbers.driver.insertMany(range(2, 40).map((n) => ({ n })));
    gate.next();
    await eventually(() => status.some((s) => s.type === 'historyLost'), 'history lost reported', 15_000);
    await nextStatus(stream, 'resumed');
    await numbers.driver.insertOne({ n: 100 });
    await eventually(() => handled.includes(100), 'live again');
    expect(errors).toEqual([]);
    const lost = status.find((s) => s.type === 'historyLost') as { error: { code: number }; policy: string };
    expect(lost.error.code).toBe(136);
    expect(lost.policy).toBe('restartFromNow');
  });
});

describe('edge 8: closing while a store call never settles', () => {
  const never = <T>(): Promise<T> => new Promise<T>(() => {});

  it('a load that never settles: the client still closes promptly', async () => {
    const hung: CheckpointStore = Object.assign(Object.create(new CollectionCheckpointStore(checkpoints())) as CheckpointStore, {
      load: never,
    });
    const stream = f.numbers.watch([], { checkpoint: { store: hung, key: 'k', timeoutMS: 300 } });
    const status = statusLog(stream);
    subscriptions.push(stream.consume(() => undefined).subscribe({ error: () => {} }));
    await eventually(() => status.some((s) => s.type === 'checkpointError'), 'load timed out and is retried');
    const started = Date.now();
    await f.close();
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a save that never settles: close finishes within the timeout and reports the failed flush', async () => {
    const honest = new CollectionCheckpointStore(checkpoints());
    let hang = false;
    const hung: CheckpointStore = Object.assign(Object.create(honest) as CheckpointStore, {
      save: (...args: Parameters<CheckpointStore['save']>) => (hang ? never<void>() : honest.save(...args)),
    });
    const stream = f.numbers.watch([], { checkpoint: { store: hung, key: 'k', timeoutMS: 300, every: { events: 1000, ms: 600_000 } } });
    const status = statusLog(stream);
    let completed = false;
    subscriptions.push(stream.consume(() => undefined).subscribe({ complete: () => (completed = true) }));
    await nextStatus(stream, 'opened');
    hang = true;
    await insertNumbers(f.numbers, 1, 3);
    await eventually(() => stream.resumeToken !== undefined && status.length > 0, 'handled');
    await settle(100);
    const started = Date.now();
    await f.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(completed).toBe(true);
    const closed = status.find((s) => s.type === 'closed') as { checkpointError?: unknown };
    expect(closed.checkpointError).toBeInstanceOf(CheckpointTimeoutError);
  });
});

describe('edge 10: timers', () => {
  it('rejects durations a timer cannot hold, naming the option, and sends nothing', async () => {
    expect(() => f.numbers.watch([], { linger: 2 ** 31 })).toThrow(/linger must be a duration from 0 to 2147483647 ms, got 2147483648/);
    expect(() => f.numbers.watch([], { retry: { initialDelayMS: 2 ** 40 } })).toThrow(RangeError);
    await settle();
    expect(f.m.started).toHaveLength(0);
  });

  it('a pending linger timer does not keep the process alive after close()', async () => {
    const script = join(__dirname, '..', 'fixtures', 'linger-exit.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, backend().uri, uniqueDbName('linger')], {
      cwd: join(__dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      exited,
      new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 20_000))),
    ]);
    clearTimeout(timer);
    if (outcome === 'still running') child.kill('SIGKILL');
    expect({ outcome, output: output.trim() }).toEqual({ outcome: 0, output: 'closed' });
  }, 30_000);
});

describe('edge 11: every.events is honoured for plain subscribers', () => {
  it('saves once per every.events changes delivered, not once per driver batch', async () => {
    const store = new CollectionCheckpointStore(checkpoints());
    const stream = f.numbers.watch([], { checkpoint: { store, key: 'dash', every: { events: 10, ms: 600_000 } } });
    const status = statusLog(stream);
    const opened = nextStatus(stream, 'opened');
    const seen: number[] = [];
    subscriptions.push(stream.subscribe((c) => seen.push(numberOf(c))));
    await opened;
    await f.m.client.driver.db(f.numbers.dbName).collection('numbers').insertMany(range(1, 300).map((n) => ({ n })));
    await eventually(() => seen.length === 300, 'all 300 delivered');
    const saves = () => status.filter((s) => s.type === 'checkpointed').length - 1; // the opening save
    // Saves run off the delivery path: under load the last ones land after the last delivery.
    await eventually(() => saves() >= 30, '30 saves', 5_000).catch(() => undefined);
    expect(saves()).toBeGreaterThanOrEqual(30);
  });
});
