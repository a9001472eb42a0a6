/**
 * `lag$` on the run's backend: sampled, hot, opens no cursor of its own;
 * the age of the last change delivered grows while a handler holds it, the
 * unacknowledged count is what was read and not yet handled, and a quiet
 * stream is measured from its post-batch token.
 */
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import type { StreamLag } from '../../lib';
import { eventually } from './client-monitor';
import { changeStreamAggregates, fixture, insertNumbers, nextStatus, type Fixture } from './watch-support';

let f: Fixture;

beforeEach(async () => {
  f = await fixture('lag');
});

afterEach(async () => {
  await f.close();
});

const sampleMS = 25;

it('samples without opening a cursor, and reports no lag while nothing runs', async () => {
  const stream = f.numbers.watch([], { observe: { sampleMS } });
  const samples = await firstValueFrom(stream.lag$.pipe(take(3), toArray()));
  expect(samples.map((s) => [s.lagMS, s.unacknowledged, s.subscriptions])).toEqual([
    [undefined, 0, 0],
    [undefined, 0, 0],
    [undefined, 0, 0],
  ]);
  expect(samples[2].at - samples[0].at).toBeGreaterThanOrEqual(sampleMS);
  expect(changeStreamAggregates(f.m)).toEqual([]);
});

it('counts what a slow handler holds as unacknowledged, and its lag grows with the clock', async () => {
  const stream = f.numbers.watch([], { observe: { sampleMS } });
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const handled: number[] = [];
  const opened = nextStatus(stream, 'opened');
  const consumer = stream
    .consume(async (change) => {
      if (change.operationType === 'insert' && change.fullDocument.n === 1) await held;
      if (change.operationType === 'insert') handled.push(change.fullDocument.n);
    }, { highWaterMark: 10 })
    .subscribe();
  try {
    await opened;
    await insertNumbers(f.numbers, 1, 5);
    // The first change is in the handler, the other four read and queued behind it.
    const holding = await firstValueFrom(stream.lag$.pipe(filter((s) => s.unacknowledged === 5)));
    expect(holding.subscriptions).toBe(1);
    expect(holding.lagMS).toBeGreaterThanOrEqual(0);
    expect(holding.quiet).toBe(false);
    const later = await firstValueFrom(stream.lag$.pipe(filter((s) => s.at >= holding.at + 4 * sampleMS)));
    // The same newest change, older by exactly the time between the samples.
    expect(later.clusterTime?.equals(holding.clusterTime!)).toBe(true);
    expect(later.lagMS! - holding.lagMS!).toBe(later.at - holding.at);
    release();
    await eventually(() => handled.length === 5, 'five handled');
    const done = await firstValueFrom(stream.lag$.pipe(filter((s) => s.unacknowledged === 0)));
    expect(done.subscriptions).toBe(1);
  } finally {
    release();
    consumer.unsubscribe();
  }
  const after = await firstValueFrom(stream.lag$.pipe(filter((s) => s.subscriptions === 0)));
  expect(after).toMatchObject({ lagMS: undefined, unacknowledged: 0 });
});

it('measures a quiet stream from its post-batch token, which moves past the last change', async () => {
  const stream = f.numbers.watch([{ $match: { 'fullDocument.kind': 'wanted' } }], { observe: { sampleMS }, maxAwaitTimeMS: 50 });
  const opened = nextStatus(stream, 'opened');
  const seen: unknown[] = [];
  const subscription = stream.subscribe((change) => seen.push(change));
  try {
    await opened;
    await f.numbers.driver.insertOne({ n: 1, kind: 'wanted' });
    await eventually(() => seen.length === 1, 'the wanted change');
    const event = seen[0] as { clusterTime: StreamLag['clusterTime'] };
    // Changes the pipeline filters out move the server's post-batch token, not the stream's events.
    const { operationTime } = await f.numbers.driver.db.command({ insert: f.numbers.collectionName, documents: [{ n: 2, kind: 'other' }] });
    const quiet = await firstValueFrom(
      stream.lag$.pipe(filter((s) => s.quiet && s.clusterTime !== undefined && !s.clusterTime.lessThan(operationTime))),
    );
    expect(quiet.clusterTime!.greaterThan(event.clusterTime!)).toBe(true);
    expect(quiet.unacknowledged).toBe(0);
    expect(seen).toHaveLength(1);
  } finally {
    subscription.unsubscribe();
  }
});

it('is hot: subscribers share one sampler, and a late one gets the latest sample at once', async () => {
  const stream = f.numbers.watch([], { observe: { sampleMS } });
  const early: StreamLag[] = [];
  const hold = stream.lag$.subscribe((sample) => early.push(sample));
  try {
    const [a, b] = await Promise.all([firstValueFrom(stream.lag$.pipe(take(3), toArray())), firstValueFrom(stream.lag$.pipe(take(3), toArray()))]);
    // The same sample objects: one timer, not one per subscriber.
    expect(b).toEqual(a);
    for (let i = 0; i < 3; i++) expect(b[i]).toBe(a[i]);
    expect(early).toContain(a[0]);
    expect(a[2].at - a[1].at).toBeGreaterThanOrEqual(sampleMS - 1);
  } finally {
    hold.unsubscribe();
  }
});
