/**
 * No leaked cursor, ever (edge 2): a subscription that ends at any moment —
 * before the aggregate's reply, during a getMore, during a restart, during a
 * backoff wait, while a consume() handler is slow — leaves no cursor open on
 * the server, counted with `$currentOp` and `idleCursors: true`.
 */
import type { CommandStartedEvent, MongoClient } from 'mongodb';
import type { Subscription } from 'rxjs';
import { MemoryCheckpointStore } from '../../lib/checkpoint/memory';
import { describeWith, driverClient } from '../support/backend';
import { eventually, failCommand, settle } from './client-monitor';
import { fixture, insertNumbers, nextStatus, statusLog, type Fixture } from './watch-support';

let f: Fixture;
let admin: MongoClient;

beforeAll(async () => {
  admin = driverClient();
  await admin.connect();
});
afterAll(() => admin.close());
beforeEach(async () => {
  f = await fixture('cursors');
});
afterEach(() => f.close());

/** Cursors open on the server on the spec's collection, idle or inside an operation. */
async function openCursors(): Promise<number> {
  const ns = `${f.numbers.dbName}.numbers`;
  const ops = await admin.db('admin').aggregate([{ $currentOp: { idleCursors: true } }, { $match: { ns } }]).toArray();
  return ops.filter((op) => op.type === 'idleCursor' || op.cursor !== undefined || op.op === 'getmore').length;
}

/** Resolves with the next started command named `name` (a driver event: its reply cannot have arrived). */
function started(name: string, nth = 1): Promise<CommandStartedEvent> {
  let seen = 0;
  return new Promise((resolve) => {
    const listener = (event: CommandStartedEvent): void => {
      if (event.commandName !== name || (name === 'aggregate' && event.command.pipeline?.[0]?.$changeStream === undefined)) return;
      seen += 1;
      if (seen < nth) return;
      f.m.client.driver.off('commandStarted', listener);
      resolve(event);
    };
    f.m.client.driver.on('commandStarted', listener);
  });
}

/** Waits until the server has no cursor left on the collection (the driver answers killCursors asynchronously). */
async function noCursorLeft(): Promise<void> {
  const deadline = Date.now() + 10_000;
  let open = await openCursors();
  while (open > 0 && Date.now() < deadline) {
    await settle(50);
    open = await openCursors();
  }
  expect(open).toBe(0);
}

describeWith(['idleCursors'], 'no leaked cursor', () => {
  it('counts a live change stream cursor (the measure can see one)', async () => {
    const stream = f.numbers.watch();
    const opened = nextStatus(stream, 'opened');
    const sub = stream.subscribe();
    await opened;
    expect(await openCursors()).toBe(1);
    sub.unsubscribe();
    await noCursorLeft();
  });

  it.each([
    ['a plain subscriber', (s: ReturnType<Fixture['numbers']['watch']>) => s.subscribe()],
    ['a consumer', (s: ReturnType<Fixture['numbers']['watch']>) => s.consume(() => undefined).subscribe()],
    ['a checkpointed consumer', (s: ReturnType<Fixture['numbers']['watch']>) => s.consume(() => undefined).subscribe()],
  ])('unsubscribing %s before the aggregate answers: the cursor it opens is killed', async (what, subscribe) => {
    const options = what.includes('checkpointed') ? { checkpoint: { store: new MemoryCheckpointStore(), key: 'k' } } : {};
    const stream = f.numbers.watch([], options);
    const aggregate = started('aggregate');
    const sub: Subscription = subscribe(stream);
    await aggregate;
    sub.unsubscribe();
    await eventually(() => f.m.succeeded.some((e) => e.commandName === 'aggregate'), 'the aggregate answered');
    await noCursorLeft();
    expect(f.m.commands('killCursors')).toHaveLength(1);
  });

  it('unsubscribing during an awaiting getMore kills the cursor at once', async () => {
    const stream = f.numbers.watch([], { maxAwaitTimeMS: 5_000 });
    const opened = nextStatus(stream, 'opened');
    const getMore = started('getMore');
    const sub = stream.subscribe();
    await opened;
    await getMore;
    const unsubscribedAt = Date.now();
    sub.unsubscribe();
    await noCursorLeft();
    expect(Date.now() - unsubscribedAt).toBeLessThan(4_000);
  });

  it('unsubscribing a consumer whose handler is slow (reads paused) kills its cursor', async () => {
    const stream = f.numbers.watch();
    const opened = nextStatus(stream, 'opened');
    let handling = 0;
    const sub = stream.consume(() => new Promise<void>((resolve) => setTimeout(resolve, 60_000).unref() && void (handling += 1)), { highWaterMark: 2 }).subscribe();
    await opened;
    await insertNumbers(f.numbers, 1, 10);
    await eventually(() => handling === 1, 'handler running');
    sub.unsubscribe();
    await noCursorLeft();
  });

  describeWith(['failCommand'], 'around restarts', () => {
    it.each([
      // The server labels it resumable: the driver resumes by itself on a new cursor.
      ["the driver's own resume", { errorCode: 6 }],
      // No label (the fail point's labels replace the server's): the driver surfaces it, the stream restarts.
      ["the stream's restart", { errorCode: 6, errorLabels: [] }],
    ])('unsubscribing during %s (its new aggregate sent) kills the new cursor', async (_what, fault) => {
      const stream = f.numbers.watch([], { retry: { initialDelayMS: 20, maxDelayMS: 20, jitter: 0 } });
      const opened = nextStatus(stream, 'opened');
      const sub = stream.subscribe();
      await opened;
      const reopened = started('aggregate');
      await failCommand(f.m, { failCommands: ['getMore'], ...fault });
      await reopened;
      sub.unsubscribe();
      await eventually(() => f.m.succeeded.some((e) => e.commandName === 'aggregate'), 'the new aggregate answered');
      await noCursorLeft();
    });

    it('unsubscribing during a backoff wait opens nothing more', async () => {
      const stream = f.numbers.watch([], { retry: { initialDelayMS: 300, maxDelayMS: 300, jitter: 0 } });
      const status = statusLog(stream);
      const opened = nextStatus(stream, 'opened');
      const sub = stream.subscribe();
      await opened;
      const retrying = nextStatus(stream, 'retrying');
      await failCommand(f.m, { failCommands: ['getMore'], errorCode: 6, errorLabels: [] });
      await retrying;
      sub.unsubscribe();
      await settle(500);
      await noCursorLeft();
      expect(f.m.commands('aggregate')).toHaveLength(0);
      expect(status.filter((s) => s.type === 'closed')).toEqual([{ type: 'closed', reason: 'unsubscribed' }]);
    });
  });

  it('the last of many quick subscribe/unsubscribe cycles leaves nothing open', async () => {
    const stream = f.numbers.watch();
    for (let i = 0; i < 20; i += 1) {
      const sub = stream.subscribe();
      if (i % 2 === 0) await settle(i);
      sub.unsubscribe();
    }
    await settle(300);
    await noCursorLeft();
  });
});
