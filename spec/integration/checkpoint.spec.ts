/**
 * Checkpoints on the run's backend: with each store, a stream stopped and
 * started again resumes right after its last checkpoint (zero loss), and a
 * quiet, filtered stream's checkpoint follows the server's post-batch token.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, map, takeWhile, timer, toArray, type Subscription } from 'rxjs';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../lib/checkpoint/collection';
import { FileCheckpointStore } from '../../lib/checkpoint/file';
import { MemoryCheckpointStore } from '../../lib/checkpoint/memory';
import type { CheckpointStore } from '../../lib/checkpoint/store';
import { uniqueDbName } from '../support/backend';
import { eventually, settle } from './client-monitor';
import { fixture, insertNumbers, nextStatus, numberOf, range, statusLog, type Fixture } from './watch-support';

let f: Fixture;
let directory: string;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  f = await fixture('checkpoint');
  directory = await mkdtemp(join(tmpdir(), 'rxmongo-checkpoint-spec-'));
});

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await f.close();
  await rm(directory, { recursive: true, force: true });
});

const stores: Array<[string, () => CheckpointStore]> = [
  ['MemoryCheckpointStore', () => new MemoryCheckpointStore()],
  ['FileCheckpointStore', () => new FileCheckpointStore(directory)],
  [
    'CollectionCheckpointStore',
    () => new CollectionCheckpointStore(f.m.client.driver.db(uniqueDbName('ckpt')).collection<CheckpointDocument>('checkpoints')),
  ],
];

describe.each(stores)('with a %s', (_name, makeStore) => {
  it('a plain subscription stopped and started again resumes right after its checkpoint', async () => {
    const store = makeStore();
    const options = { checkpoint: { store, key: 'dashboard', every: { events: 7, ms: 60_000 } } };
    const first = f.numbers.watch([], options);
    const opened = nextStatus(first, 'opened');
    const seen: number[] = [];
    const run = first.subscribe((c) => seen.push(numberOf(c)));
    await opened;
    await insertNumbers(f.numbers, 1, 25);
    await eventually(() => seen.length === 25, 'first run saw 25');
    const closed = nextStatus(first, 'closed');
    run.unsubscribe();
    await closed;
    await insertNumbers(f.numbers, 26, 40);

    const second = f.numbers.watch([], options);
    subscriptions.push(second.subscribe((c) => seen.push(numberOf(c))));
    await eventually(() => seen.length >= 40, 'second run caught up');
    await insertNumbers(f.numbers, 41, 41);
    await eventually(() => seen.includes(41), 'live again');
    expect(seen).toEqual(range(1, 41));
  });

  it('consume() stopped mid-way resumes after the last acknowledged change: every change handled, none twice', async () => {
    const store = makeStore();
    const options = { checkpoint: { store, key: 'projector', every: { events: 10, ms: 60_000 } } };
    const handled: number[] = [];
    const first = f.numbers.watch([], options);
    const opened = nextStatus(first, 'opened');
    // An Observable handler: unsubscribing cancels the one in flight, so it is neither applied nor acknowledged.
    const run = first.consume((c) => timer(1).pipe(map(() => void handled.push(numberOf(c))))).subscribe();
    await opened;
    await insertNumbers(f.numbers, 1, 60);
    await eventually(() => handled.length >= 23, 'first run handled some');
    const closed = nextStatus(first, 'closed');
    run.unsubscribe();
    await closed;
    const stoppedAt = handled.length;
    expect(stoppedAt).toBeLessThan(60);

    const second = f.numbers.watch([], options);
    subscriptions.push(second.consume((c) => void handled.push(numberOf(c))).subscribe());
    await eventually(() => handled.length >= 60, 'second run handled the rest', 20_000);
    expect(handled).toEqual(range(1, 60));
  });
});

describe('quiet, filtered streams', () => {
  it("save the server's post-batch token, so a restart starts after the writes they never matched", async () => {
    const store = new MemoryCheckpointStore();
    const quiet = f.numbers.watch([{ $match: { 'fullDocument.kind': 'wanted' } }], {
      maxAwaitTimeMS: 100,
      checkpoint: { store, key: 'quiet', every: { events: 100, ms: 20 } },
    });
    const status = statusLog(quiet);
    const opened = nextStatus(quiet, 'opened');
    const matched: number[] = [];
    subscriptions.push(quiet.subscribe((c) => matched.push(numberOf(c))));
    await opened;
    await f.numbers.driver.insertMany(
      range(1, 30).map((n) => ({ n })),
      { writeConcern: { w: 'majority' } },
    );
    // A getMore that starts after the writes returns a post-batch token past them.
    const mark = f.m.started.length;
    await eventually(() => {
      const ids = new Set(f.m.started.slice(mark).filter((e) => e.commandName === 'getMore').map((e) => e.requestId));
      return f.m.succeeded.some((e) => e.commandName === 'getMore' && ids.has(e.requestId));
    }, 'a getMore issued after the writes');
    await settle(20);
    const target = JSON.stringify(quiet.resumeToken);
    await eventually(
      () => status.some((s) => s.type === 'checkpointed' && JSON.stringify(s.token) === target),
      'that position saved without a matching change',
    );
    expect(matched).toEqual([]);
    const saved = await store.load('quiet');
    expect(JSON.stringify(saved)).toBe(target);

    // An unfiltered stream from that checkpoint skips the writes the filter
    // passed over. mongod's post-batch token is a high-water mark at the
    // newest oplog entry's time, and a resume from it includes the event at
    // that very time: at most the last of the 30 comes again, then 31.
    const unfiltered = f.numbers.watch([], { startAfter: saved });
    const opened2 = nextStatus(unfiltered, 'opened');
    const seen = firstValueFrom(unfiltered.pipe(map(numberOf), takeWhile((n) => n !== 31, true), toArray()));
    await opened2;
    await insertNumbers(f.numbers, 31, 31);
    const after = await seen;
    expect(after.at(-1)).toBe(31);
    expect(after.filter((n) => n !== 30 && n !== 31)).toEqual([]);
  });
});
