/**
 * A consumer-group member's life in one process (members on clients of
 * their own, sharing a MemoryCheckpointStore): leaving, failing, closing,
 * a mismatched partition count, a single consumer growing into a group, and
 * what status$ shows.
 */
import type { ChangeStreamInsertDocument, CommandStartedEvent, Document } from 'mongodb';
import { filter, firstValueFrom, lastValueFrom, type Subscription } from 'rxjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientClosedError, ConfigurationError, FileCheckpointStore, MemoryCheckpointStore, RxMongoClient, type ChangeStreamStatus, type CheckpointStore, type GroupStatus } from '../../lib';
import { backend, SPEC_DRIVER_OPTIONS, uniqueDbName } from '../support/backend';

interface Doc {
  _id: number;
}
type Insert = ChangeStreamInsertDocument<Doc>;

const LEASE_MS = 600;
const PARTITIONS = 4;

jest.setTimeout(30_000);

describe('consumer group member', () => {
  const dbName = uniqueDbName('groupmember');
  const clients: RxMongoClient[] = [];
  let counter = 0;

  function client(): RxMongoClient {
    const c = new RxMongoClient(backend().uri, SPEC_DRIVER_OPTIONS);
    clients.push(c);
    return c;
  }

  afterAll(async () => {
    const c = client();
    await lastValueFrom(c.db(dbName).dropDatabase());
    await Promise.all(clients.map((x) => lastValueFrom(x.close(), { defaultValue: undefined })));
  });

  /** A fresh collection and group key. */
  async function setup(): Promise<{ name: string; key: string; store: MemoryCheckpointStore; insert(ids: number[]): Promise<void> }> {
    counter += 1;
    const name = `c${counter}`;
    const writer = client();
    await writer.db(dbName).driver.createCollection(name);
    return {
      name,
      key: `k${counter}`,
      store: new MemoryCheckpointStore(),
      insert: async (ids) => {
        await writer.db(dbName).collection<Doc>(name).driver.insertMany(ids.map((_id) => ({ _id })));
      },
    };
  }

  function member(on: RxMongoClient, name: string, key: string, store: CheckpointStore, partitions = PARTITIONS) {
    return on
      .db(dbName)
      .collection<Doc>(name)
      .watch<Doc, Insert>([{ $match: { operationType: 'insert' } }], {
        maxAwaitTimeMS: 50,
        checkpoint: { store, key, every: { events: 1, ms: 50 } },
        group: { partitions, leaseMS: LEASE_MS },
      });
  }

  const is =
    <T extends ChangeStreamStatus['type']>(type: T) =>
    (s: ChangeStreamStatus): s is Extract<ChangeStreamStatus, { type: T }> =>
      s.type === type;

  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Two members on `store`: one leaves, the other takes every partition over. */
  async function leaveAndTakeOver(store: CheckpointStore & Required<Pick<CheckpointStore, 'leases'>>): Promise<void> {
    const { name, key, insert } = await setup();
    const seen = { a: [] as number[], b: [] as number[] };
    const a = member(client(), name, key, store);
    const b = member(client(), name, key, store);
    const aStatus: ChangeStreamStatus[] = [];
    a.status$.subscribe((s) => aStatus.push(s));
    const bAll = firstValueFrom(b.status$.pipe(filter((s) => s.type === 'assigned' && s.owned.length === PARTITIONS)));
    const subA = a.consume((c) => void seen.a.push(c.documentKey._id)).subscribe();
    await firstValueFrom(a.status$.pipe(filter((s) => s.type === 'assigned' && s.owned.length === PARTITIONS)));
    const subB = b.consume((c) => void seen.b.push(c.documentKey._id)).subscribe();
    await until(() => aStatus.some((s) => s.type === 'revoked' && s.reason === 'rebalance'), 'a to give partitions to b');

    await insert([1, 2, 3, 4, 5, 6, 7, 8]);
    await until(() => seen.a.length + seen.b.length === 8, 'both to handle the inserts');
    expect(seen.a.length).toBeGreaterThan(0);
    expect(seen.b.length).toBeGreaterThan(0);

    subA.unsubscribe();
    await firstValueFrom(a.status$.pipe(filter(is('left'))));
    const revoked = aStatus.filter(is('revoked'));
    expect(revoked[revoked.length - 1]).toMatchObject({ reason: 'closed', owned: [] });
    expect(await store.leases(`${key}/members/`)).toHaveLength(1);
    await bAll;
    await insert([9, 10, 11, 12]);
    await until(() => seen.b.filter((id) => id > 8).length === 4, 'b to handle every partition');
    expect(seen.a.filter((id) => id > 8)).toEqual([]);
    subB.unsubscribe();
    await firstValueFrom(b.status$.pipe(filter(is('left'))));
    expect(await store.leases(`${key}/`)).toEqual([]);
  }

  it('unsubscribing leaves: partitions saved and released, announcement withdrawn, the other member takes over', async () => {
    await leaveAndTakeOver(new MemoryCheckpointStore());
  });

  it('works the same on a FileCheckpointStore (members on one machine, sharing a directory)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'rxmongo-group-'));
    try {
      await leaveAndTakeOver(new FileCheckpointStore(directory));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("reads only its own share from the server: the partition filter opens each cursor's pipeline", async () => {
    const { name, key, store, insert } = await setup();
    const own = new RxMongoClient(backend().uri, { ...SPEC_DRIVER_OPTIONS, monitorCommands: true });
    clients.push(own);
    const pipelines: Document[][] = [];
    own.driver.on('commandStarted', (e: CommandStartedEvent) => {
      const pipeline = e.command.pipeline as Document[] | undefined;
      if (e.commandName === 'aggregate' && pipeline?.[0]?.$changeStream !== undefined) pipelines.push(pipeline);
    });
    const seen = { a: [] as number[], b: [] as number[] };
    const a = member(own, name, key, store);
    const b = member(client(), name, key, store);
    const owned = { a: [] as readonly number[], b: [] as readonly number[] };
    a.status$.subscribe((s) => {
      if (s.type === 'assigned' || s.type === 'revoked') owned.a = s.owned;
    });
    b.status$.subscribe((s) => {
      if (s.type === 'assigned' || s.type === 'revoked') owned.b = s.owned;
    });
    const subs = [a.consume((c) => void seen.a.push(c.documentKey._id)).subscribe()];
    await until(() => owned.a.length === PARTITIONS, 'a to hold every partition');
    subs.push(b.consume((c) => void seen.b.push(c.documentKey._id)).subscribe());
    await until(() => owned.a.length === 2 && owned.b.length === 2, 'an even split');
    const ids = Array.from({ length: 40 }, (_, i) => 100 + i);
    await insert(ids);
    await until(() => seen.a.length + seen.b.length === ids.length, 'every insert handled');
    for (const sub of subs) sub.unsubscribe();

    // Where the server puts each document.
    const partitionOf = new Map(
      (
        await own
          .db(dbName)
          .collection<Doc>(name)
          .driver.aggregate<{ _id: number; p: number }>([{ $project: { p: { $mod: [{ $abs: { $toHashedIndexKey: '$_id' } }, PARTITIONS] } } }])
          .toArray()
      ).map((d) => [d._id, d.p]),
    );
    expect(seen.a.every((id) => owned.a.includes(partitionOf.get(id)!))).toBe(true);
    expect(seen.b.every((id) => owned.b.includes(partitionOf.get(id)!))).toBe(true);
    // a's cursors (besides the one that read the group's starting position): one per partition
    // it held, each with the user's $match behind the partition filter.
    const partitionsOpened = pipelines.filter((p) => p.length > 1).map((p) => {
      expect(p[2]).toEqual({ $match: { operationType: 'insert' } });
      const [hashed, partition] = p[1].$match.$or[1].$expr.$eq as [{ $mod: [unknown, number] }, number];
      expect(hashed).toEqual({ $mod: [{ $abs: { $toHashedIndexKey: '$documentKey._id' } }, PARTITIONS] });
      return partition;
    });
    expect(new Set(partitionsOpened)).toEqual(new Set(Array.from({ length: PARTITIONS }, (_, i) => i)));
  });

  it('a handler error ends the member with that error after its last saves; the change goes to the next member', async () => {
    const { name, key, store, insert } = await setup();
    const a = member(client(), name, key, store);
    const statuses: ChangeStreamStatus[] = [];
    a.status$.subscribe((s) => statuses.push(s));
    const failure = new Error('projection failed on 3');
    const handled: number[] = [];
    const ended = lastValueFrom(
      a.consume((c) => {
        if (c.documentKey._id === 3) throw failure;
        handled.push(c.documentKey._id);
      }),
      { defaultValue: undefined },
    );
    await firstValueFrom(a.status$.pipe(filter((s) => s.type === 'assigned' && s.owned.length === PARTITIONS)));
    await insert([1, 2, 3, 4]);
    await expect(ended).rejects.toBe(failure);
    expect(statuses.filter(is('left'))).toHaveLength(1);
    expect(await store.leases(`${key}/`)).toEqual([]);

    const again: number[] = [];
    const b = member(client(), name, key, store).consume((c) => void again.push(c.documentKey._id)).subscribe();
    await until(() => again.includes(3), 'the next member to handle 3');
    b.unsubscribe();
    expect([...handled, ...again].sort()).toEqual(expect.arrayContaining([1, 2, 3, 4]));
  });

  it("consume()'s options reach every partition: onHandlerError 'retry' runs a failed change again instead of ending the member", async () => {
    const { name, key, store, insert } = await setup();
    const a = member(client(), name, key, store);
    const attempts = new Map<number, number>();
    let failed: unknown;
    const sub = a
      .consume(
        (c) => {
          const id = c.documentKey._id;
          attempts.set(id, (attempts.get(id) ?? 0) + 1);
          if (id === 3 && attempts.get(id) === 1) throw new Error('projection failed on 3, once');
        },
        { onHandlerError: 'retry' },
      )
      .subscribe({ error: (error: unknown) => (failed = error) });
    await firstValueFrom(a.status$.pipe(filter((s) => s.type === 'assigned' && s.owned.length === PARTITIONS)));
    await insert([1, 2, 3, 4]);
    await until(() => attempts.size === 4 && attempts.get(3) === 2 || failed !== undefined, 'every change handled');
    expect(failed).toBeUndefined();
    expect([...attempts].sort(([x], [y]) => x - y)).toEqual([[1, 1], [2, 1], [3, 2], [4, 1]]);
    sub.unsubscribe();
  });

  it("completes when its client closes, after leaving the group", async () => {
    const { name, key, store } = await setup();
    const own = client();
    const a = member(own, name, key, store);
    const statuses: ChangeStreamStatus[] = [];
    a.status$.subscribe((s) => statuses.push(s));
    const done = lastValueFrom(a.consume(() => {}), { defaultValue: 'completed' });
    await firstValueFrom(a.status$.pipe(filter((s) => s.type === 'assigned' && s.owned.length === PARTITIONS)));
    await lastValueFrom(own.close(), { defaultValue: undefined });
    await expect(done).resolves.toBe('completed');
    expect(statuses.map((s) => s.type)).toContain('left');
    expect(await store.leases(`${key}/`)).toEqual([]);
  });

  it('errors with ClientClosedError when subscribed after its client closed', async () => {
    const { name, key, store } = await setup();
    const own = client();
    const a = member(own, name, key, store);
    await lastValueFrom(own.close(), { defaultValue: undefined });
    await expect(lastValueFrom(a.consume(() => {}), { defaultValue: undefined })).rejects.toThrow(ClientClosedError);
  });

  it('waits as a standby while a single consumer holds the key, and leaves nothing behind when unsubscribed meanwhile', async () => {
    const { name, key, store } = await setup();
    const single = client()
      .db(dbName)
      .collection<Doc>(name)
      .watch<Doc, Insert>([], { maxAwaitTimeMS: 50, checkpoint: { store, key, lease: { ttlMS: 60_000 } } });
    const singleSub = single.consume(() => {}).subscribe();
    await firstValueFrom(single.status$.pipe(filter(is('opened'))));

    const a = member(client(), name, key, store);
    const statuses: ChangeStreamStatus[] = [];
    a.status$.subscribe((s) => statuses.push(s));
    const sub = a.consume(() => {}).subscribe();
    await firstValueFrom(a.status$.pipe(filter(is('standby'))));
    sub.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    expect(statuses.map((s) => s.type)).toEqual(['standby']);
    expect((await store.leases(`${key}/`)).map((l) => l.key)).toEqual([]);
    singleSub.unsubscribe();
  });

  it('a member asking for another partition count fails with ConfigurationError', async () => {
    const { name, key, store } = await setup();
    const a = member(client(), name, key, store, 4);
    const subA = a.consume(() => {}).subscribe();
    await firstValueFrom(a.status$.pipe(filter(is('joined'))));
    const wrong = lastValueFrom(member(client(), name, key, store, 6).consume(() => {}), { defaultValue: undefined });
    await expect(wrong).rejects.toThrow(ConfigurationError);
    await expect(wrong).rejects.toThrow('consumer group "' + key + '" has 4 partitions; this member asks for 6');
    subA.unsubscribe();
  });

  it('a single consumer grows into a group: partitions start from its stored position, nothing lost or repeated', async () => {
    const { name, key, store, insert } = await setup();
    const single = client()
      .db(dbName)
      .collection<Doc>(name)
      .watch<Doc, Insert>([{ $match: { operationType: 'insert' } }], { maxAwaitTimeMS: 50, checkpoint: { store, key, every: { events: 1 } } });
    const before: number[] = [];
    let sub: Subscription = single.consume((c) => void before.push(c.documentKey._id)).subscribe();
    await firstValueFrom(single.status$.pipe(filter(is('opened'))));
    await insert([1, 2, 3]);
    await until(() => before.length === 3, 'the single consumer');
    sub.unsubscribe();
    await firstValueFrom(single.status$.pipe(filter(is('closed'))));
    await insert([4, 5, 6, 7, 8, 9]); // while nobody consumes

    const a = member(client(), name, key, store);
    const progress: Array<Extract<GroupStatus, { type: 'progress' }>> = [];
    a.status$.pipe(filter(is('progress'))).subscribe((p) => progress.push(p));
    const after: number[] = [];
    sub = a.consume((c) => void after.push(c.documentKey._id)).subscribe();
    await until(() => after.length >= 6, 'the group to handle what was written meanwhile');
    await until(() => progress.some((p) => p.handled > 0), 'a progress report');
    sub.unsubscribe();
    expect(after.sort((x, y) => x - y)).toEqual([4, 5, 6, 7, 8, 9]);
    const report = progress.find((p) => p.handled > 0)!;
    expect(report.partition).toBeGreaterThanOrEqual(0);
    expect(report.partition).toBeLessThan(PARTITIONS);
    expect(report.token).toBeDefined();
    expect(report.lastEventAt).toBeInstanceOf(Date);
    expect(report.lagMS).toBeGreaterThanOrEqual(0);
  });
});
