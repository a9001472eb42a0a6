/**
 * Two consumer processes on one checkpoint key (a FileCheckpointStore, then
 * a CollectionCheckpointStore):
 * the second waits as a standby; the owner is SIGSTOPped past its lease,
 * the standby takes over; the old owner is SIGCONTed: its store calls are
 * refused (fence), it stops, the stored position never moves backwards, and
 * nothing is lost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { CollectionCheckpointStore, type CheckpointDocument } from '../../lib/checkpoint/collection';
import { FileCheckpointStore } from '../../lib/checkpoint/file';
import type { CheckpointStore } from '../../lib/checkpoint/store';
import { CheckpointLeaseLostError } from '../../lib/errors';
import { driverClient, uniqueDbName } from '../support/backend';
import { signal, start, until, type Child } from './process-support';

jest.setTimeout(90_000);

describe('lease failover between two processes', () => {
  let client: MongoClient;
  let work: string;
  let dbName: string;
  const children: Child[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rxmongo-failover-'));
    client = driverClient();
    await client.connect();
    dbName = uniqueDbName('failover');
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.process.kill('SIGCONT');
      await signal(child, 'SIGKILL');
    }
  });

  afterAll(async () => {
    for (const kind of ['file', 'collection']) await client.db(`${dbName}_${kind}`).dropDatabase();
    await client.close();
    await rm(work, { recursive: true, force: true });
  });

  it.each(['file', 'collection'] as const)('%s store: SIGSTOP the owner past its lease; the standby takes over, the woken owner is fenced off, nothing is lost', async (kind) => {
    const db = `${dbName}_${kind}`;
    const numbers = client.db(db).collection('numbers');
    await client.db(db).createCollection('numbers');
    const directory = join(work, 'checkpoints');
    const uri = process.env.RXMONGO_TEST_URI as string;
    const a = start('spec/fixtures/lease-consumer.ts', [uri, db, kind, directory, 'a']);
    children.push(a);
    await a.line((l) => l === 'opened', 'a opened');
    const b = start('spec/fixtures/lease-consumer.ts', [uri, db, kind, directory, 'b']);
    children.push(b);
    await b.line((l) => l === 'standby', 'b standby');

    // Watch the stored position all along: it must never move backwards.
    const observer: CheckpointStore =
      kind === 'file' ? new FileCheckpointStore(directory) : new CollectionCheckpointStore(client.db(db).collection<CheckpointDocument>('checkpoints'));
    const stored: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const token = (await observer.load('failover').catch(() => undefined)) as { _data?: string } | undefined;
        if (token?._data !== undefined && token._data !== stored[stored.length - 1]) stored.push(token._data);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    const handled = (child: Child): number[] => child.lines.filter((l) => l.startsWith('handled ')).map((l) => Number(l.slice(8)));
    const write = (from: number, to: number) => numbers.insertMany(Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i })));
    await write(1, 40);
    await until(() => handled(a).length >= 20, 'a handling', 30_000);
    signal(a, 'SIGSTOP');
    const stoppedAt = Date.now();
    await write(41, 80);
    const takeover = await b.line((l) => l.startsWith('acquired '), 'b took over', 30_000);
    const takeoverMS = Date.now() - stoppedAt;
    await until(() => handled(b).includes(80), 'b caught up', 30_000);
    signal(a, 'SIGCONT');
    const aExit = await a.exited;
    await write(81, 100);
    await until(() => handled(b).includes(100), 'b goes on', 30_000);
    watching = false;
    await watcher;

    const fenceA = Number((await a.line((l) => l.startsWith('acquired '), 'a acquired')).slice(9));
    const fenceB = Number(takeover.slice(9));
    const all = new Set([...handled(a), ...handled(b)]);
    const lost = Array.from({ length: 100 }, (_, i) => i + 1).filter((n) => !all.has(n));
    const refusals = a.lines.filter((l) => l.startsWith('refused '));
    console.log(
      `lease failover (${kind} store): a (fence ${fenceA}) stopped after ${handled(a).length} handled; b (fence ${fenceB}) took over ${takeoverMS} ms later; ` +
        `a woke and was refused (${refusals.join(', ') || 'nothing'}), exit ${aExit}; lost ${lost.length}; ` +
        `stored position moved ${stored.length - 1} times, never backwards; handled twice: ${handled(a).filter((n) => handled(b).includes(n)).length}`,
    );
    // Whatever a's process still tries, a save with its fence is refused and moves nothing.
    const before = await observer.load('failover');
    await expect(observer.save({ key: 'failover', holder: 'a', fence: fenceA }, { _data: '00' })).rejects.toBeInstanceOf(
      CheckpointLeaseLostError,
    );
    expect(await observer.load('failover')).toEqual(before);
    expect(fenceB).toBeGreaterThan(fenceA);
    expect(a.lines).toContain('leaseLost');
    expect(refusals.length).toBeGreaterThan(0);
    expect(aExit).toBe(3);
    expect(lost).toEqual([]);
    expect(stored.length).toBeGreaterThan(2);
    for (let i = 1; i < stored.length; i += 1) expect(stored[i] > stored[i - 1]).toBe(true);
  });
});
