/**
 * watch(…, { initialSnapshot: true }) on the run's backend: the collection's
 * documents as `snapshot` events, then the changes after the snapshot's
 * time — no gap, no duplicate, even while writers race the read — through
 * the stream's own pipeline; with a checkpoint, a restart during the
 * snapshot reads it again and a restart after it resumes from the stored
 * position.
 */
import type { ChangeStreamDocument } from 'mongodb';
import { firstValueFrom, lastValueFrom, Subject, toArray, type Subscription } from 'rxjs';
import type { ChangeStreamSnapshotDocument } from '../../lib/change-stream';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../lib/checkpoint/collection';
import { eventually, settle } from './client-monitor';
import { fixture, insertNumbers, nextStatus, range, statusLog, type Fixture, type Numbered } from './watch-support';

jest.setTimeout(60_000);

let f: Fixture;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  f = await fixture('snapshot');
});

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
});

interface Counter extends Numbered {
  _id: number;
  v: number;
}
type Event = ChangeStreamDocument<Counter> | ChangeStreamSnapshotDocument<Counter>;

describe('watch() with initialSnapshot', () => {
  it('emits the documents, then every change after them exactly once while writers race the read', async () => {
    const counters = f.m.client.db(f.numbers.dbName).collection<Counter>('numbers');
    await counters.driver.insertMany(range(1, 60).map((n) => ({ _id: n, n, v: 0 })));
    const stream = counters.watch([], { initialSnapshot: true, batchSize: 7, fullDocument: 'updateLookup' });
    const events: Event[] = [];
    let writing = true;
    let next = 61;
    // Inserts and increments keep landing while the snapshot is read and the stream opens.
    const writer = (async () => {
      while (writing) {
        await counters.driver.insertOne({ _id: next, n: next, v: 0 });
        next += 1;
        await counters.driver.updateOne({ _id: 1 + (next % 60) }, { $inc: { v: 1 } });
      }
    })();
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(
      stream.consume((event) => {
        events.push(event);
        return settle(1); // a slow consumer: the snapshot is read in many batches, with writes in between
      }).subscribe(),
    );
    await opened;
    await settle(200);
    writing = false;
    await writer;
    const last = next - 1;
    await eventually(() => events.some((e) => e.operationType === 'insert' && e.documentKey._id === last), 'the last insert', 30_000);
    await eventually(() => events.length >= 60, 'the events');
    await settle(300);

    const snapshot = events.filter((e): e is ChangeStreamSnapshotDocument<Counter> => e.operationType === 'snapshot');
    expect(snapshot.length).toBeGreaterThanOrEqual(60);
    expect(events.slice(0, snapshot.length)).toEqual(snapshot); // the snapshot first
    expect(snapshot[0]).toEqual({
      operationType: 'snapshot',
      clusterTime: snapshot[0].clusterTime,
      fullDocument: { _id: 1, n: 1, v: expect.any(Number) },
      documentKey: { _id: 1 },
      ns: { db: f.numbers.dbName, coll: 'numbers' },
    });
    expect(snapshot.every((e) => e.clusterTime.equals(snapshot[0].clusterTime))).toBe(true);
    expect(snapshot.map((e) => e.documentKey._id)).toEqual(range(1, snapshot.length)); // in _id order

    // Each document comes once, from the snapshot or from its insert.
    const inserted = events.flatMap((e) => (e.operationType === 'insert' ? [e.documentKey._id] : []));
    const origins = [...snapshot.map((e) => e.documentKey._id), ...inserted].sort((a, b) => a - b);
    expect(origins).toEqual(range(1, last));
    // Replaying the events gives the collection's state: no increment missed or counted twice.
    const state = new Map<number, number>();
    for (const e of events) {
      if (e.operationType === 'snapshot' || e.operationType === 'insert') state.set(e.documentKey._id, e.fullDocument.v);
      else if (e.operationType === 'update') state.set(e.documentKey._id, (state.get(e.documentKey._id) as number) + 1);
    }
    const final = await lastValueFrom(counters.find({}, { sort: { _id: 1 } }).pipe(toArray()));
    expect([...state.entries()].sort((a, b) => a[0] - b[0])).toEqual(final.map((d) => [d._id, d.v]));
    expect(events.filter((e) => e.operationType === 'update').length).toBeGreaterThan(0);
    expect(inserted.length).toBeGreaterThan(0);
  });

  it("passes the snapshot through the stream's pipeline like the changes", async () => {
    await insertNumbers(f.numbers, 1, 10);
    const stream = f.numbers.watch([{ $match: { 'fullDocument.n': { $mod: [3, 0] } } }, { $project: { operationType: 1, 'fullDocument.n': 1 } }], { initialSnapshot: true });
    const seen: Array<[string, number]> = [];
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(stream.subscribe((e) => seen.push([e.operationType, (e as { fullDocument: Numbered }).fullDocument.n])));
    await opened;
    await insertNumbers(f.numbers, 11, 13);
    await eventually(() => seen.length === 4, 'three snapshot events and one insert');
    expect(seen).toEqual([['snapshot', 3], ['snapshot', 6], ['snapshot', 9], ['insert', 12]]);
  });

  it('with a checkpoint: a restart during the snapshot reads it again, a restart after it resumes from the stored position', async () => {
    await insertNumbers(f.numbers, 1, 20);
    const store = new CollectionCheckpointStore(f.m.client.driver.db(f.numbers.dbName).collection<CheckpointDocument>('checkpoints'));
    const watch = () => f.numbers.watch([], { initialSnapshot: true, batchSize: 5, checkpoint: { store, key: 'mirror', every: { events: 3, ms: 50 } } });
    const label = (e: { operationType: string }): string => `${e.operationType} ${(e as { fullDocument?: Numbered }).fullDocument?.n ?? ''}`;
    const checkpoints = f.m.client.driver.db(f.numbers.dbName).collection<CheckpointDocument>('checkpoints');
    // A subscription closed before its change stream opened reports no `closed`: its lease given back tells.
    const released = async (): Promise<void> => {
      for (let tries = 0; (await checkpoints.findOne({ _id: 'mirror' }))?.holder != null; tries += 1) {
        if (tries > 200) throw new Error('the lease was not given back');
        await settle(20);
      }
    };

    // First run: stopped while handling the 8th snapshot document.
    const gate = new Subject<void>();
    const first = watch();
    const firstSeen: string[] = [];
    const handling8 = new Promise<void>((resolve) => {
      subscriptions.push(
        first
          .consume((e) => {
            firstSeen.push(label(e));
            if ((e as { fullDocument?: Numbered }).fullDocument?.n === 8) {
              resolve();
              return firstValueFrom(gate);
            }
            return undefined;
          })
          .subscribe(),
      );
    });
    await handling8;
    subscriptions.pop()?.unsubscribe();
    await released();
    expect(await store.load('mirror')).toBeUndefined(); // nothing stored during the snapshot

    // Second run: the snapshot again, whole, then changes; its time is stored once every snapshot event is handled.
    const second = watch();
    const log = statusLog(second);
    const secondSeen: string[] = [];
    const opened = nextStatus(second, 'opened');
    subscriptions.push(second.consume((e) => void secondSeen.push(label(e))).subscribe());
    await opened;
    await eventually(() => secondSeen.length === 20, 'the snapshot again');
    expect(secondSeen).toEqual(range(1, 20).map((n) => `snapshot ${n}`));
    await eventually(() => log.some((s) => s.type === 'checkpointed'), 'the snapshot time stored');
    await insertNumbers(f.numbers, 21, 22);
    await eventually(() => secondSeen.length === 22, 'two changes');
    const secondClosed = nextStatus(second, 'closed');
    subscriptions.pop()?.unsubscribe();
    await secondClosed;

    // Third run: no snapshot; the changes after the stored position only.
    await insertNumbers(f.numbers, 23, 23);
    const third = watch();
    const thirdSeen: string[] = [];
    subscriptions.push(third.consume((e) => void thirdSeen.push(label(e))).subscribe());
    await eventually(() => thirdSeen.length === 1, 'the change after the stored position');
    await settle(200);
    expect(thirdSeen).toEqual(['insert 23']);
  });

  it('refuses a client or database stream, and a start option, at the call', () => {
    expect(() => f.m.client.watch([], { initialSnapshot: true } as never)).toThrow(/initialSnapshot reads a collection's documents/);
    expect(() => f.m.client.db(f.numbers.dbName).watch([], { initialSnapshot: true } as never)).toThrow(TypeError);
    expect(() => f.numbers.watch([], { initialSnapshot: true, startAfter: { _data: '00' } })).toThrow(/cannot be combined with startAfter/);
    const store = new CollectionCheckpointStore(f.m.client.driver.db(f.numbers.dbName).collection<CheckpointDocument>('checkpoints'));
    expect(() => f.numbers.watch([], { initialSnapshot: true, checkpoint: { store, key: 'k', start: { _data: '00' } } })).toThrow(/checkpoint.start/);
    expect(() => f.numbers.watch([], { initialSnapshot: 1 as never })).toThrow(/initialSnapshot must be a boolean/);
  });
});
