/**
 * `headroom$` and the `headroomLow` warning: the oplog window of the member
 * read against the stored checkpoint (or the stream's own position), on
 * every backend; and, where a spec can make history fall off (the wire
 * server's small oplog), the warning comes before the history is lost — for
 * a stopped consumer and for a slow one.
 */
import { MongoClient, type ChangeStreamDocument, type Document, type Timestamp } from 'mongodb';
import { filter, firstValueFrom, lastValueFrom, merge, take, toArray, type Observable } from 'rxjs';
import { MemoryCheckpointStore, RxChangeStream, RxMongoClient, type ChangeStreamStatus, type OplogHeadroom } from '../../lib';
import { ReplicaSet } from '../server';
import { describeWith, driverClient } from '../support/backend';
import { eventually } from './client-monitor';
import { changeStreamAggregates, fixture, insertNumbers, nextStatus, statusLog, type Fixture, type Numbered } from './watch-support';

const every = 20;

/** The first sample that has seen the oplog reach `time`. */
function sampleAfter(headroom$: Observable<OplogHeadroom>, time: Timestamp): Promise<OplogHeadroom> {
  return firstValueFrom(headroom$.pipe(filter((s) => s.window !== undefined && !s.window.last.ts.lessThan(time))));
}

describe('headroom$ on the run’s backend', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await fixture('headroom');
  });

  afterEach(async () => {
    await f.close();
  });

  it('places a stopped consumer’s stored checkpoint in the oplog window', async () => {
    const store = new MemoryCheckpointStore();
    const checkpoint = { store, key: 'projector', every: { events: 1 } };
    const consumer = f.numbers.watch([], { checkpoint });
    const opened = nextStatus(consumer, 'opened');
    const last: ChangeStreamDocument<Numbered>[] = [];
    const run = consumer.consume((change) => void last.push(change)).subscribe();
    await opened;
    await insertNumbers(f.numbers, 1, 3, 1);
    await eventually(() => last.length === 3, 'three handled');
    run.unsubscribe();
    await nextStatus(consumer, 'closed');

    // Another stream object on the same key, as a monitor would make: nothing of it runs.
    const monitor = f.numbers.watch([], { checkpoint, headroom: { every, marginMS: 0 } });
    const streamsBefore = changeStreamAggregates(f.m).length;
    const { operationTime } = await f.numbers.driver.db.command({ insert: f.numbers.collectionName, documents: [{ n: 4 }] });
    const sample = await sampleAfter(monitor.headroom$, operationTime as Timestamp);
    expect(changeStreamAggregates(f.m)).toHaveLength(streamsBefore);
    expect(f.m.commands('find').some((c) => c.find === 'oplog.rs')).toBe(true);
    const event = last[2];
    const raw = driverClient();
    const entry = await raw.db('local').collection('oplog.rs').findOne({ ts: event.clusterTime }).finally(() => raw.close());
    const written = (entry!.wall as Date).getTime();
    expect(sample.unavailable).toBeUndefined();
    expect(sample.position).toMatchObject({ source: 'checkpoint', timeMS: written });
    expect(sample.position!.clusterTime.equals(event.clusterTime!)).toBe(true);
    const { first, last: newest } = sample.window!;
    expect(first!.ts.lessThan(event.clusterTime!)).toBe(true);
    expect(newest.ts.greaterThan(event.clusterTime!)).toBe(true);
    expect(sample.window!.spanMS).toBe(newest.wall.getTime() - first!.wall.getTime());
    expect(sample.headroomMS).toBe(written - first!.wall.getTime());
    expect(sample.position!.ageMS).toBe(Math.max(0, sample.at - written));
    expect(sample).toMatchObject({ lost: false, low: false, marginMS: 0 });
  });

  it('measures a stream without a checkpoint from its own position', async () => {
    const stream = f.numbers.watch([], { headroom: { every } });
    const opened = nextStatus(stream, 'opened');
    const run = stream.subscribe();
    try {
      await opened;
      await insertNumbers(f.numbers, 1, 2, 1);
      await eventually(() => stream.resumeToken !== undefined, 'a position');
      const { operationTime } = await f.numbers.driver.db.command({ insert: f.numbers.collectionName, documents: [{ n: 3 }] });
      const sample = await sampleAfter(stream.headroom$.pipe(filter((s) => s.position !== undefined)), operationTime as Timestamp);
      expect(sample.position?.source).toBe('stream');
      expect(sample.lost).toBe(false);
      expect(sample.headroomMS).toBeGreaterThanOrEqual(0);
    } finally {
      run.unsubscribe();
    }
  });

  it('warns once on status$ while the headroom stays below the margin', async () => {
    const store = new MemoryCheckpointStore();
    const consumer = f.numbers.watch([], { checkpoint: { store, key: 'k', every: { events: 1 } } });
    const opened = nextStatus(consumer, 'opened');
    const run = consumer.subscribe();
    await opened;
    run.unsubscribe();
    await nextStatus(consumer, 'closed');
    // No oplog spans an infinite margin.
    const monitor = f.numbers.watch([], { checkpoint: { store, key: 'k' }, headroom: { every, marginMS: Infinity } });
    const log = statusLog(monitor);
    const samples = await firstValueFrom(monitor.headroom$.pipe(take(4), toArray()));
    expect(samples.every((s) => s.low && !s.lost)).toBe(true);
    const warnings = log.filter((s) => s.type === 'headroomLow');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ type: 'headroomLow', marginMS: Infinity, headroomMS: samples[0].headroomMS });
  });

  it('with the headroom option, watches while the stream runs, without a headroom$ subscriber', async () => {
    const stream = f.numbers.watch([], { headroom: { every, marginMS: Infinity } });
    const warned = nextStatus(stream, 'headroomLow');
    const opened = nextStatus(stream, 'opened');
    const run = stream.subscribe();
    try {
      await opened;
      await insertNumbers(f.numbers, 1, 1);
      expect((await warned).headroom.position?.source).toBe('stream');
    } finally {
      run.unsubscribe();
    }
  });

  it('reports what it cannot read instead of erroring', async () => {
    const raw = driverClient();
    try {
      // A stream made without a client (as a library might): it can open cursors, not read the oplog.
      const stream = new RxChangeStream((pipeline, options) => raw.db('x').collection('y').watch(pipeline, options), [], { headroom: { every } });
      const [sample] = await lastValueFrom(stream.headroom$.pipe(take(1), toArray()));
      expect(sample).toMatchObject({ window: undefined, position: undefined, headroomMS: undefined, lost: false, low: false });
      expect(sample.unavailable).toContain('no client');
    } finally {
      await raw.close();
    }
  });
});

describeWith(['historyControl'], 'headroom as history falls off a small oplog (needs a truncatable oplog)', () => {
  const HISTORY = 30;
  const MARGIN = 150;
  let rs: ReplicaSet;
  let client: RxMongoClient;
  let raw: MongoClient;

  beforeEach(async () => {
    rs = await ReplicaSet.start({ members: 1, historySize: HISTORY });
    client = new RxMongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
    raw = new MongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
    // The set's first oplog entry is now well over the margin older than anything written next.
    await new Promise((resolve) => setTimeout(resolve, 3 * MARGIN));
  });

  afterEach(async () => {
    await raw.close();
    await lastValueFrom(client.close(), { defaultValue: undefined });
    await rs.close();
  });

  /** One write to `shop.<collection>`; resolves with its operation time. */
  const write = async (n: number, collection = 'filler'): Promise<Timestamp> =>
    (await raw.db('shop').command({ insert: collection, documents: [{ n }] })).operationTime as Timestamp;

  /** Writes one entry at a time, each seen by a headroom sample, until `done` holds for a sample. */
  async function writeUntil(headroom$: Observable<OplogHeadroom>, done: (s: OplogHeadroom) => boolean, collection?: string): Promise<OplogHeadroom[]> {
    const samples: OplogHeadroom[] = [];
    for (let n = 0; n < 3 * HISTORY; n++) {
      const sample = await sampleAfter(headroom$, await write(n, collection));
      samples.push(sample);
      if (done(sample)) return samples;
    }
    throw new Error(`no sample met the condition after ${3 * HISTORY} writes: ${JSON.stringify(samples.at(-1))}`);
  }

  it('warns about a stopped consumer’s checkpoint before resuming from it is history lost', async () => {
    const store = new MemoryCheckpointStore();
    const orders = client.db('shop').collection<Document>('orders');
    const checkpoint = { store, key: 'projector', every: { events: 1 } };
    const consumer = orders.watch([], { checkpoint });
    const opened = nextStatus(consumer, 'opened');
    let handled = 0;
    const run = consumer.consume(() => void (handled += 1)).subscribe();
    await opened;
    await raw.db('shop').collection('orders').insertMany([{ _id: 1 }, { _id: 2 }] as Document[]);
    await eventually(() => handled === 2, 'two handled');
    run.unsubscribe();
    await nextStatus(consumer, 'closed');

    // The consumer is stopped; a monitor on the same store and key watches its checkpoint.
    const monitor = orders.watch([], { checkpoint, headroom: { every, marginMS: MARGIN } });
    const log = statusLog({ status$: merge(consumer.status$, monitor.status$) });
    const samples = await writeUntil(monitor.headroom$, (s) => s.lost);
    const lowAt = samples.findIndex((s) => s.low);
    expect(lowAt).toBeGreaterThan(0);
    expect(samples.slice(0, lowAt).every((s) => s.headroomMS! >= MARGIN)).toBe(true);
    expect(samples[lowAt]).toMatchObject({ lost: false });
    expect(samples[lowAt].headroomMS).toBeLessThan(MARGIN);
    // Warned once, with the sample that first fell below the margin.
    const warnings = log.filter((s): s is Extract<ChangeStreamStatus, { type: 'headroomLow' }> => s.type === 'headroomLow');
    expect(warnings.map((w) => w.headroom)).toEqual([samples[lowAt]]);

    // Now it is too late: the consumer's next start finds its history gone.
    const error = await lastValueFrom(consumer.consume(() => undefined)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 286 });
    const types = log.map((s) => s.type);
    expect(types.indexOf('headroomLow')).toBeLessThan(types.indexOf('historyLost'));
  }, 30_000);

  it('warns about a slow consumer while it runs, before its cursor falls off the oplog', async () => {
    const store = new MemoryCheckpointStore();
    const orders = client.db('shop').collection<{ n: number }>('orders');
    const consumer = orders.watch([], { checkpoint: { store, key: 'slow', every: { events: 1 } }, headroom: { every, marginMS: MARGIN } });
    const log = statusLog(consumer);
    const opened = nextStatus(consumer, 'opened');
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    // Handles n = 0, then is stuck on the next change, holding two: its cursor reads no further.
    const run = lastValueFrom(consumer.consume((change) => (change.operationType === 'insert' && change.fullDocument.n === 0 ? undefined : stuck), { highWaterMark: 2 }), {
      defaultValue: undefined,
    });
    await opened;
    const saved = nextStatus(consumer, 'checkpointed');
    const first = await write(0, 'orders');
    await saved;
    // Samples run one at a time: once one has loaded the new checkpoint, none still judges the opening
    // token (a position between entries, dated to its second only, so it can read as no headroom).
    await firstValueFrom(consumer.headroom$.pipe(filter((s) => s.position !== undefined && !s.position.clusterTime.lessThan(first))));
    const fromHere = log.length;
    const samples = await writeUntil(consumer.headroom$, (s) => s.lost, 'orders');
    const lowAt = samples.findIndex((s) => s.low);
    expect(lowAt).toBeGreaterThan(0);
    expect(samples.slice(0, lowAt).every((s) => s.headroomMS! >= MARGIN)).toBe(true);
    expect(samples[lowAt].lost).toBe(false);
    // The running stream warned by itself (the `headroom` option), with that sample.
    const warnings = log.slice(fromHere).filter((s): s is Extract<ChangeStreamStatus, { type: 'headroomLow' }> => s.type === 'headroomLow');
    expect(warnings.map((w) => w.headroom)).toEqual([samples[lowAt]]);
    expect(log.some((s) => s.type === 'historyLost')).toBe(false);
    // The changes it read were written just after its checkpoint: a few more writes trim them too.
    for (let n = 100; n < 104; n++) await write(n, 'orders');
    // Unstuck, it reads on from a cursor whose history is gone: CappedPositionLost, through the policy.
    release();
    await expect(run).rejects.toMatchObject({ code: 136 });
    const types = log.map((s) => s.type);
    expect(types.lastIndexOf('headroomLow')).toBeLessThan(types.indexOf('historyLost'));
  }, 30_000);
});
