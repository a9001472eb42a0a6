/**
 * Consumer groups across processes: members are separate node processes
 * (spec/fixtures/group-member.ts) sharing a CollectionCheckpointStore, so a
 * SIGKILL or SIGSTOP reaches the member itself. A producer writes 40
 * documents and 60 rounds of updates to each; afterwards every update was
 * handled at least once by some member, the work was shared, and no member
 * handled a document's updates out of order.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { driverClient, backend, uniqueDbName } from '../support/backend';
import {
  distinct,
  killAll,
  missing,
  outOfOrder,
  produce,
  readLog,
  signal,
  startMember,
  takenOverAt,
  until,
  type GroupRun,
  type Member,
  type MemberLog,
} from './group-support';

const DOCS = 40;
const UPDATES = 60;
const PARTITIONS = 6;
const LEASE_MS = 1500;
const TOTAL = DOCS * (UPDATES + 1);

jest.setTimeout(90_000);

describe('consumer group of member processes', () => {
  let client: MongoClient;
  let dir: string;
  let members: Member[] = [];
  let dbName: string;

  beforeAll(async () => {
    client = driverClient({ writeConcern: { w: 'majority' } });
    dbName = uniqueDbName('group');
    dir = await mkdtemp(join(tmpdir(), 'rxmongo-group-'));
  });

  afterEach(async () => {
    await killAll(members);
    members = [];
  });

  afterAll(async () => {
    await client.db(dbName).dropDatabase();
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });

  function run(name: string): GroupRun {
    return { uri: backend().uri, db: dbName, collection: name, key: `group-${name}`, partitions: PARTITIONS, leaseMS: LEASE_MS };
  }

  function launch(group: GroupRun, name: string): Member {
    const member = startMember(group, `${group.collection}-${name}`, dir);
    members.push(member);
    return member;
  }

  /** Waits until the members hold every partition between them, ⌈P/N⌉ at most each. */
  async function balanced(live: Member[]): Promise<void> {
    const most = Math.ceil(PARTITIONS / live.length);
    await until(
      () => {
        const owned = live.map((m) => readLog(m).owned);
        return owned.flat().length === PARTITIONS && new Set(owned.flat()).size === PARTITIONS && owned.every((o) => o.length <= most);
      },
      `${live.length} members to share ${PARTITIONS} partitions`,
      30_000,
      live,
    );
  }

  async function allHandled(everyone: Member[]): Promise<MemberLog[]> {
    await until(() => missing(everyone.map(readLog), DOCS, UPDATES).length === 0, 'every update handled', 45_000, everyone.filter((m) => m.child.signalCode === null));
    return everyone.map(readLog);
  }

  function expectOrdered(logs: MemberLog[]): void {
    for (const log of logs) expect(outOfOrder(log)).toEqual([]);
  }

  it('SIGKILL of one member: the others take its partitions over, every update handled, each a share, in order', async () => {
    const group = run('kill');
    await client.db(dbName).createCollection(group.collection);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => launch(group, n));
    await balanced([a, b, c]);

    let killedAt = 0;
    let killedOwned: number[] = [];
    await produce(client, group, DOCS, UPDATES, async (round) => {
      if (round !== 20) return;
      killedOwned = readLog(b).owned;
      killedAt = Date.now();
      await signal(b, 'SIGKILL');
    });
    const logs = await allHandled([a, b, c]);
    await balanced([a, c]);
    const [la, lb, lc] = [a, b, c].map(readLog);
    const rebalancedAt = takenOverAt([la, lc], killedOwned, killedAt);

    console.log(
      `group kill: ${TOTAL} changes, ${PARTITIONS} partitions, leaseMS ${LEASE_MS}; member b (partitions ${killedOwned.join(',')}) SIGKILLed; ` +
        `its partitions taken over after ${rebalancedAt === undefined ? '?' : rebalancedAt - killedAt} ms; ` +
        `handled a ${distinct(la)}, b ${distinct(lb)} (before the kill), c ${distinct(lc)}; ` +
        `duplicates ${logs.reduce((n, l) => n + l.handled.length, 0) - TOTAL}`,
    );
    expect(killedOwned.length).toBeGreaterThan(0);
    expect(rebalancedAt).toBeDefined();
    expect(missing(logs, DOCS, UPDATES)).toEqual([]);
    for (const survivor of [la, lc]) {
      expect(distinct(survivor)).toBeGreaterThan(0);
      expect(distinct(survivor)).toBeLessThan(TOTAL);
    }
    expectOrdered(logs);
  });

  it('members joining late get their share, moved over from the others without a loss', async () => {
    const group = run('join');
    await client.db(dbName).createCollection(group.collection);
    const a = launch(group, 'a');
    await balanced([a]);
    let b: Member | undefined;
    let c: Member | undefined;
    let joinedAt = 0;
    // Writing goes on once each newcomer holds its share, so every member has changes left to handle
    // however long its process takes to start (on a loaded machine, longer than the rest of the writes).
    await produce(client, group, DOCS, UPDATES, async (round) => {
      if (round === 15) {
        b = launch(group, 'b');
        await balanced([a, b]);
      }
      if (round === 35) {
        joinedAt = Date.now();
        c = launch(group, 'c');
        await balanced([a, b!, c]);
      }
    });
    const everyone = [a, b!, c!];
    const logs = await allHandled(everyone);
    await balanced(everyone);
    const settledAt = Math.max(...everyone.map((m) => Math.max(...readLog(m).statuses.filter((s) => s.type === 'assigned' || s.type === 'revoked').map((s) => s.t))));
    const [la, lb, lc] = everyone.map(readLog);

    console.log(
      `group join: a alone, b joined at round 15, c at round 35; shares now ${[la, lb, lc].map((l) => l.owned.length).join('/')} of ${PARTITIONS}; ` +
        `handled a ${distinct(la)}, b ${distinct(lb)}, c ${distinct(lc)}; c's start to a settled group: ${settledAt - joinedAt} ms (process start included)`,
    );
    expect(missing(logs, DOCS, UPDATES)).toEqual([]);
    for (const log of [la, lb, lc]) {
      expect(distinct(log)).toBeGreaterThan(0);
      expect(distinct(log)).toBeLessThan(TOTAL);
      expect(log.owned).toHaveLength(PARTITIONS / 3);
    }
    // a gave partitions up for the newcomers: revoked by rebalance, never lost.
    expect(la.statuses.some((s) => s.type === 'revoked' && s.reason === 'rebalance')).toBe(true);
    expectOrdered(logs);
  });

  it('a member SIGSTOPped past its lease is replaced; resumed, its saves are refused and nothing is lost', async () => {
    const group = run('stop');
    await client.db(dbName).createCollection(group.collection);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => launch(group, n));
    await balanced([a, b, c]);

    let frozen: number[] = [];
    let stoppedAt = 0;
    let resumedAt = 0;
    await produce(client, group, DOCS, UPDATES, async (round) => {
      if (round === 15) {
        frozen = readLog(b).owned;
        stoppedAt = Date.now();
        b.child.kill('SIGSTOP');
      }
      if (round === 30) {
        await balanced([a, c]);
        resumedAt = Date.now();
        b.child.kill('SIGCONT');
      }
    });
    const logs = await allHandled([a, b, c]);
    await balanced([a, b, c]);
    const [la, lb, lc] = [a, b, c].map(readLog);
    const takenAt = takenOverAt([la, lc], frozen, stoppedAt);
    const lost = lb.statuses.filter((s) => s.type === 'revoked' && s.reason === 'leaseLost' && s.t >= resumedAt).flatMap((s) => s.partitions ?? []);

    console.log(
      `group stop: member b (partitions ${frozen.join(',')}) SIGSTOPped for ${resumedAt - stoppedAt} ms; taken over after ` +
        `${takenAt === undefined ? '?' : takenAt - stoppedAt} ms; resumed, b lost the lease of ${lost.sort().join(',')}; ` +
        `handled a ${distinct(la)}, b ${distinct(lb)}, c ${distinct(lc)}`,
    );
    expect(frozen.length).toBeGreaterThan(0);
    expect(takenAt).toBeDefined();
    expect(new Set(lost)).toEqual(new Set(frozen));
    // Refused by the store: another member's fence is newer.
    const refusals = lb.statuses.filter((s) => s.type === 'leaseLost' && s.t >= resumedAt);
    expect(new Set(refusals.map((s) => s.key))).toEqual(new Set(frozen.map((p) => `${group.key}/p${p}`)));
    for (const refusal of refusals) expect(refusal.error).toMatch(/CheckpointLeaseLostError: .* is lost: the key is now held with fence \d+/);
    expect(missing(logs, DOCS, UPDATES)).toEqual([]);
    expectOrdered(logs);
  });
});
