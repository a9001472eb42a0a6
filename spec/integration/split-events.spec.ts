/**
 * watch(…, { splitLargeEvents: true }) on the run's backend with a 20 MB
 * update: a ~10 MB document updated with a ~10 MB field, read with
 * `fullDocument: 'updateLookup'` — each document under 16 MB, the event
 * (update description plus post-image) over it, so the server splits it.
 * Subscribers get it whole and once, the checkpoint never holds a
 * fragment's token, and a restart between fragments reads the event again
 * from its first fragment.
 */
import type { ChangeStreamDocument, ChangeStreamUpdateDocument, Document, ResumeToken } from 'mongodb';
import { type Subscription } from 'rxjs';
import { MemoryCheckpointStore } from '../../lib/checkpoint/memory';
import { describeWith } from '../support/backend';
import { batchOf, fixture, nextStatus, statusLog, type Fixture } from './watch-support';
import { eventually, failCommand, settle } from './client-monitor';

jest.setTimeout(120_000);

const MB = 1024 * 1024;

interface Big {
  _id: number;
  n?: number;
  payload?: string;
  extra?: string;
}

let f: Fixture;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  f = await fixture('split');
});

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
});

/** Fragment tokens the server sent (every fragment but the last of an event). */
function fragmentTokens(): string[] {
  return f.m.succeeded
    .flatMap(batchOf)
    .filter((e) => e.splitEvent !== undefined && e.splitEvent.fragment < e.splitEvent.of)
    .map((e) => (e._id as { _data: string })._data);
}

/** The 20 MB update between two small inserts. */
async function write(): Promise<void> {
  const big = f.m.client.driver.db(f.numbers.dbName).collection<Big>('numbers');
  await big.insertOne({ _id: 1, n: 1 });
  await big.insertOne({ _id: 2, payload: 'a'.repeat(10 * MB) });
  await big.updateOne({ _id: 2 }, { $set: { payload: 'b'.repeat(10 * MB) } });
  await big.insertOne({ _id: 3, n: 3 });
}

function expectWhole(changes: Array<ChangeStreamDocument<Big>>): void {
  expect(changes.map((c) => `${c.operationType} ${'documentKey' in c ? String(c.documentKey._id) : ''}`)).toEqual(['insert 1', 'insert 2', 'update 2', 'insert 3']);
  const update = changes[2] as ChangeStreamUpdateDocument<Big>;
  expect(update).not.toHaveProperty('splitEvent');
  expect(update.updateDescription.updatedFields?.payload).toHaveLength(10 * MB);
  expect(update.updateDescription.updatedFields?.payload?.startsWith('b')).toBe(true);
  expect(update.fullDocument?.payload).toHaveLength(10 * MB);
  expect(update.ns).toEqual({ db: f.numbers.dbName, coll: 'numbers' });
}

describeWith(['splitLargeEvents'], 'splitLargeEvents (needs $changeStreamSplitLargeEvent)', () => {
  it('delivers a 20 MB update whole and once, and checkpoints only past its last fragment', async () => {
    const store = new MemoryCheckpointStore();
    const stream = f.numbers.watch<Big, ChangeStreamDocument<Big>>([], {
      fullDocument: 'updateLookup',
      splitLargeEvents: true,
      checkpoint: { store, key: 'big', every: { events: 1, ms: 60_000 } },
    });
    const log = statusLog(stream);
    const seen: Array<ChangeStreamDocument<Big>> = [];
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(stream.subscribe((c) => seen.push(c)));
    await opened;
    await write();
    await eventually(() => seen.length === 4, 'four events', 60_000);
    await settle(100);
    expectWhole(seen);

    const fragments = fragmentTokens();
    expect(fragments.length).toBeGreaterThanOrEqual(1); // the server did split it
    const pipeline = f.m.commands('aggregate').find((c) => c.pipeline?.[0]?.$changeStream)?.pipeline as Document[];
    expect(pipeline[pipeline.length - 1]).toEqual({ $changeStreamSplitLargeEvent: {} });
    const saved = log.flatMap((s) => (s.type === 'checkpointed' ? [(s.token as { _data?: string })._data] : []));
    expect(saved.length).toBeGreaterThanOrEqual(4);
    for (const token of fragments) expect(saved).not.toContain(token);
    // The whole event carries its last fragment's token: resuming after it goes on after the event.
    const lastFragment = f.m.succeeded.flatMap(batchOf).find((e) => e.splitEvent !== undefined && e.splitEvent.fragment === e.splitEvent.of);
    expect(seen[2]._id).toEqual(lastFragment?._id);
  });

  it('refuses the stage in the pipeline as well, and a non-boolean', () => {
    expect(() => f.numbers.watch([{ $changeStreamSplitLargeEvent: {} }], { splitLargeEvents: true })).toThrow(/adds the \$changeStreamSplitLargeEvent stage itself/);
    expect(() => f.numbers.watch([], { splitLargeEvents: 'yes' as never })).toThrow(/splitLargeEvents must be a boolean/);
  });
});

describeWith(['splitLargeEvents', 'failCommand'], 'splitLargeEvents across a restart between fragments (needs failCommand)', () => {
  it('reads the event again from its first fragment and delivers it once', async () => {
    const store = new MemoryCheckpointStore();
    const stream = f.numbers.watch<Big, ChangeStreamDocument<Big>>([], {
      fullDocument: 'updateLookup',
      splitLargeEvents: true,
      maxAwaitTimeMS: 10_000,
      retry: { initialDelayMS: 10, maxDelayMS: 50 },
      checkpoint: { store, key: 'big', every: { events: 1, ms: 60_000 } },
    });
    const log = statusLog(stream);
    const seen: Array<ChangeStreamDocument<Big>> = [];
    const opened = nextStatus(stream, 'opened');
    subscriptions.push(stream.consume((c) => void seen.push(c)).subscribe());
    await opened;
    const big = f.m.client.driver.db(f.numbers.dbName).collection<Big>('numbers');
    await big.insertOne({ _id: 2, payload: 'a'.repeat(10 * MB) });
    await eventually(() => seen.length === 1, 'the insert', 60_000);
    await settle(100); // the next getMore waits for news on the server
    // The getMore after the first fragment fails without a resumable label: the driver gives up, the stream restarts itself.
    await failCommand(f.m, { failCommands: ['getMore'], errorCode: 91, errorLabels: [] });
    await big.updateOne({ _id: 2 }, { $set: { payload: 'b'.repeat(10 * MB) } });
    await eventually(() => seen.length === 2, 'the update', 60_000);
    await settle(200);

    expect(seen.map((c) => c.operationType)).toEqual(['insert', 'update']);
    const update = seen[1] as ChangeStreamUpdateDocument<Big>;
    expect(update.updateDescription.updatedFields?.payload).toHaveLength(10 * MB);
    expect(update.fullDocument?.payload).toHaveLength(10 * MB);
    expect(log.filter((s) => s.type === 'retrying')).toHaveLength(1);
    // The first fragment came twice: before the failure and again after the restart from before it.
    const first = f.m.succeeded.flatMap(batchOf).filter((e) => e.splitEvent?.fragment === 1);
    expect(first).toHaveLength(2);
    const saved = log.flatMap((s) => (s.type === 'checkpointed' ? [s.token as ResumeToken] : []));
    for (const token of fragmentTokens()) expect(saved.map((t) => (t as { _data?: string })._data)).not.toContain(token);
  });
});
