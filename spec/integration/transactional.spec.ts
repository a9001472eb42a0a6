/**
 * consume(handler, { transactional: true }) on the run's backend: the
 * handler's writes and the checkpoint commit in one transaction per batch,
 * a save refused by the fence aborts the batch, transient transaction
 * errors re-run the batch's handlers, handler errors follow onHandlerError
 * inside the transaction, and what cannot work is refused at the call.
 */
import type { ChangeStreamInsertDocument, ClientSession } from 'mongodb';
import { firstValueFrom, lastValueFrom, map, toArray, type Subscription } from 'rxjs';
import { RxMongoClient } from '../../lib/client/client';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../lib/checkpoint/collection';
import { MemoryCheckpointStore } from '../../lib/checkpoint/memory';
import { CheckpointLeaseLostError } from '../../lib/errors';
import { backend, describeWith, driverClient, SPEC_DRIVER_OPTIONS } from '../support/backend';
import { eventually, failCommand, settle } from './client-monitor';
import { fixture, insertNumbers, nextStatus, range, statusLog, type Fixture, type Numbered } from './watch-support';

let f: Fixture;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  f = await fixture('transactional');
});

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
});

const n = (change: unknown): number => (change as ChangeStreamInsertDocument<Numbered>).fullDocument.n;

function setup(events = 10) {
  const db = f.m.client.db(f.numbers.dbName);
  const checkpoints = db.driver.collection<CheckpointDocument>('checkpoints');
  const store = new CollectionCheckpointStore(checkpoints);
  const applied = db.collection<{ _id: number; count: number }>('applied');
  const stream = f.numbers.watch([{ $match: { operationType: 'insert' } }], {
    maxAwaitTimeMS: 100,
    checkpoint: { store, key: 'projector', every: { events, ms: 60_000 }, lease: { ttlMS: 3_000 } },
  });
  /** The handler's write: counts each application of an event. */
  const apply = (change: unknown, session: ClientSession) => applied.updateOne({ _id: n(change) }, { $inc: { count: 1 } }, { upsert: true, session });
  const counts = async (): Promise<number[]> => (await lastValueFrom(applied.find({}, { sort: { _id: 1 } }).pipe(toArray()))).map((d) => d.count);
  return { db, checkpoints, store, applied, stream, apply, counts };
}

describe('consume({ transactional: true })', () => {
  it('commits each batch of handler writes with the checkpoint, and emits what the handlers emitted once, after the commit', async () => {
    const { checkpoints, stream, apply, counts } = setup(10);
    const emitted: number[] = [];
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(
      stream
        .consume((change, { session }) => apply(change, session).pipe(map(() => n(change))), { transactional: true })
        .subscribe((value) => emitted.push(value)),
    );
    await opened;
    const log = statusLog(stream); // after the opening position's own save
    f.m.reset();
    await insertNumbers(f.numbers, 1, 35, 35);
    await eventually(() => emitted.length === 35, 'all emitted');
    expect(emitted).toEqual(range(1, 35));
    expect(await counts()).toEqual(range(1, 35).map(() => 1));

    // Every checkpoint save ran inside a transaction that committed, with the handlers' writes of its batch.
    const saves = f.m.commands('update').filter((c) => c.update === 'checkpoints');
    expect(saves.length).toBeGreaterThanOrEqual(4); // 35 events, at most 10 per transaction
    for (const save of saves) expect(save).toMatchObject({ autocommit: false });
    const writes = f.m.commands('update').filter((c) => c.update === 'applied');
    expect(new Set(writes.map((c) => String(c.txnNumber)))).toEqual(new Set(saves.map((c) => String(c.txnNumber))));
    expect(f.m.commands('commitTransaction').length).toBe(saves.length);
    const checkpointed = log.filter((s) => s.type === 'checkpointed');
    expect(checkpointed.length).toBe(saves.length);
    const stored = await checkpoints.findOne({ _id: 'projector' });
    expect(stored?.token).toEqual(checkpointed[checkpointed.length - 1].type === 'checkpointed' && checkpointed[checkpointed.length - 1].token);
  });

  it('a save refused by the fence aborts the transaction: none of the batch is applied, and it ends with CheckpointLeaseLostError', async () => {
    const { checkpoints, stream, apply, counts } = setup(100);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const opened = nextStatus(stream, 'opened');
    const leaseLost = nextStatus(stream, 'leaseLost');
    const outcome = lastValueFrom(
      stream.consume(async (change, { session }) => {
        await firstValueFrom(apply(change, session));
        await gate; // the batch's transaction is open and has written
      }, { transactional: true }),
      { defaultValue: undefined },
    ).catch((error: unknown) => error);
    await opened;
    await insertNumbers(f.numbers, 1, 5, 5);
    await eventually(() => f.m.commands('update').some((c) => c.update === 'applied'), 'a handler wrote');
    // Another consumer takes the key over (a newer fence), as a standby does once the lease expired.
    await checkpoints.updateOne({ _id: 'projector' }, { $inc: { fence: 1 }, $set: { holder: 'successor' } });
    release();
    expect(await outcome).toBeInstanceOf(CheckpointLeaseLostError);
    expect((await leaseLost).error).toBeInstanceOf(CheckpointLeaseLostError);
    expect(await counts()).toEqual([]);
    expect(f.m.commands('commitTransaction')).toEqual([]);
  });

  it('unsubscribing in the middle of a batch aborts its transaction: nothing of it is applied, the checkpoint stays', async () => {
    const { checkpoints, stream, apply, counts } = setup(100);
    const opened = nextStatus(stream, 'opened');
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const subscription = stream
      .consume(async (change, { session }) => {
        await firstValueFrom(apply(change, session));
        wrote();
        await new Promise(() => {}); // never done: the batch stays open
      }, { transactional: true })
      .subscribe();
    await opened;
    const before = (await checkpoints.findOne({ _id: 'projector' }))?.token;
    await insertNumbers(f.numbers, 1, 3, 3);
    await written;
    const closed = nextStatus(stream, 'closed');
    subscription.unsubscribe();
    expect(await closed).toMatchObject({ reason: 'unsubscribed' });
    expect(f.m.commands('abortTransaction')).toHaveLength(1);
    expect(f.m.commands('commitTransaction')).toEqual([]);
    expect(await counts()).toEqual([]);
    expect((await checkpoints.findOne({ _id: 'projector' }))?.token).toEqual(before);
  });

  it("a handler error parks the change in the same transaction ('park'); the rest of the batch commits once", async () => {
    const { db, stream, apply, counts } = setup(10);
    const deadLetters = db.collection('dead');
    const runs = new Map<number, number>();
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(
      stream
        .consume(
          async (change, { session }) => {
            runs.set(n(change), (runs.get(n(change)) ?? 0) + 1);
            await firstValueFrom(apply(change, session));
            if (n(change) === 4) throw new Error('cannot project 4');
          },
          { transactional: true, onHandlerError: 'park', deadLetters },
        )
        .subscribe(),
    );
    await opened;
    await insertNumbers(f.numbers, 1, 8, 8);
    await eventually(() => (runs.get(8) ?? 0) > 0, 'all handled');
    await settle(300);
    const letters = await lastValueFrom(deadLetters.find().pipe(toArray()));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ event: { operationType: 'insert', fullDocument: { n: 4 } }, error: { name: 'Error', message: 'cannot project 4' }, attempts: 1, key: 'projector' });
    // 4's own write was rolled back with its failed attempt; the others are applied once.
    const applied = await lastValueFrom(db.collection<{ _id: number; count: number }>('applied').find({}, { sort: { _id: 1 } }).pipe(toArray()));
    expect(applied.map((d) => d._id)).toEqual([1, 2, 3, 5, 6, 7, 8]);
    expect(await counts()).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it('ends the transaction a dead holder left open at once, instead of waiting out its lifetime', async () => {
    const { checkpoints, stream, apply, counts } = setup(10);
    // A holder that died inside a transaction: its lease expired, its session recorded, its write still pending.
    const dead = driverClient();
    try {
      const session = dead.startSession();
      session.startTransaction();
      await dead.db(f.numbers.dbName).collection<{ _id: number; count: number }>('applied').updateOne({ _id: 1 }, { $inc: { count: 100 } }, { upsert: true, session });
      await checkpoints.insertOne({ _id: 'projector', fence: 7, holder: 'dead', expiresAt: new Date(Date.now() - 1_000), txnSession: session.id?.id } as CheckpointDocument);

      const opened = nextStatus(stream, 'opened');
      const started = Date.now();
      subscriptions.push(stream.consume((change, { session: own }) => apply(change, own), { transactional: true }).subscribe());
      await opened;
      await insertNumbers(f.numbers, 1, 1);
      await eventually(() => f.m.commands('commitTransaction').length > 0, 'a commit', 20_000);
      expect(Date.now() - started).toBeLessThan(20_000); // the dead transaction would hold _id 1 for 60 s
      expect(await counts()).toEqual([1]);
      expect(f.m.commands('killSessions')).toHaveLength(1);
      await expect(session.commitTransaction()).rejects.toThrow(); // it was aborted
      expect(await counts()).toEqual([1]);
    } finally {
      await dead.close();
    }
  });

  it('in a consumer group, each member commits its partitions\' handler writes with their checkpoints: every change applied once', async () => {
    const { checkpoints, store, applied, apply, counts } = setup(5);
    const members = ['a', 'b'].map(() =>
      f.numbers.watch([{ $match: { operationType: 'insert' } }], {
        maxAwaitTimeMS: 100,
        checkpoint: { store, key: 'projector', every: { events: 5, ms: 60_000 } },
        group: { partitions: 4, leaseMS: 1_500 },
      }),
    );
    const owned: number[][] = members.map(() => []);
    members.forEach((m, i) =>
      m.status$.subscribe((s) => {
        if (s.type === 'assigned' || s.type === 'revoked') owned[i] = [...s.owned];
      }),
    );
    for (const m of members) subscriptions.push(m.consume((change, { session }) => apply(change, session), { transactional: true }).subscribe());
    await eventually(() => owned[0].length === 2 && owned[1].length === 2, 'two partitions owned by each member');
    f.m.reset();
    await insertNumbers(f.numbers, 1, 40, 40);
    const deadline = Date.now() + 15_000;
    while ((await counts()).length < 40 && Date.now() < deadline) await settle(50);
    expect(await counts()).toEqual(range(1, 40).map(() => 1));
    // Each partition's checkpoint was saved in the transactions that wrote its changes.
    const saves = f.m.commands('update').filter((c) => c.update === 'checkpoints');
    expect(saves.length).toBeGreaterThan(0);
    for (const save of saves) expect(save).toMatchObject({ autocommit: false });
    const writes = f.m.commands('update').filter((c) => c.update === applied.collectionName);
    for (const write of writes) expect(write).toMatchObject({ autocommit: false });
    const keys = (await checkpoints.find({ _id: { $regex: /^projector\/p/ } }).toArray()).map((d) => d._id).sort();
    expect(keys).toEqual(['projector/p0', 'projector/p1', 'projector/p2', 'projector/p3']);
  });

  it('refuses, at the call, a stream without a CollectionCheckpointStore on its own client', async () => {
    const handler = (): void => undefined;
    expect(() => f.numbers.watch([]).consume(handler, { transactional: true })).toThrow(/needs a checkpoint with a CollectionCheckpointStore.*no checkpoint/);
    const memory = f.numbers.watch([], { checkpoint: { store: new MemoryCheckpointStore(), key: 'k' } });
    expect(() => memory.consume(handler, { transactional: true })).toThrow(/a MemoryCheckpointStore/);
    const other = new RxMongoClient(backend().uri, SPEC_DRIVER_OPTIONS);
    try {
      const foreign = new CollectionCheckpointStore(other.driver.db(f.numbers.dbName).collection<CheckpointDocument>('checkpoints'));
      const stream = f.numbers.watch([], { checkpoint: { store: foreign, key: 'k' } });
      expect(() => stream.consume(handler, { transactional: true })).toThrow(TypeError);
      expect(() => stream.consume(handler, { transactional: true })).toThrow(/another MongoClient/);
      const { stream: own } = setup();
      const letters = other.db(f.numbers.dbName).collection('dead');
      expect(() => own.consume(handler, { transactional: true, onHandlerError: 'park', deadLetters: letters })).toThrow(/deadLetters must be on the stream's own client/);
      expect(() => own.consume(handler, { transactional: 'yes' as never })).toThrow(TypeError);
    } finally {
      await lastValueFrom(other.close(), { defaultValue: undefined });
    }
  });
});

describeWith(['failCommand'], 'consume({ transactional: true }) under a transient transaction error (needs failCommand)', () => {
  it("re-runs the batch's handlers in a new transaction, applies each change once and emits each value once", async () => {
    const { stream, apply, counts } = setup(10);
    const runs: number[] = [];
    const emitted: number[] = [];
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(
      stream
        .consume(
          (change, { session }) => {
            runs.push(n(change));
            return apply(change, session).pipe(map(() => n(change)));
          },
          { transactional: true },
        )
        .subscribe((value) => emitted.push(value)),
    );
    await opened;
    await failCommand(f.m, { failCommands: ['update'], errorCode: 112, errorLabels: ['TransientTransactionError'] });
    await insertNumbers(f.numbers, 1, 5, 5);
    await eventually(() => f.m.commands('commitTransaction').length > 0, 'a commit');
    await settle(200);
    expect(await counts()).toEqual([1, 1, 1, 1, 1]);
    expect(runs.filter((x) => x === 1).length).toBe(2); // the first handler failed once, then the whole batch ran again
    expect(emitted).toEqual([1, 2, 3, 4, 5]); // values of the aborted attempt are dropped
    expect(f.m.commands('abortTransaction').length + f.m.failed.filter((e) => e.commandName === 'update').length).toBeGreaterThanOrEqual(1);
  });
});
