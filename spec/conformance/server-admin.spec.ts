/**
 * Administration as mongod answers it: server parameters (`getParameter`
 * with `'*'`, `setParameter`), the logical sessions (`$listLocalSessions`,
 * `$listSessions` after a cache refresh), `replSetFreeze`, and the running
 * operations (`currentOp`, `killOp` interrupting a waiting getMore).
 */
import { MongoClient, type Document } from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith, driverClient } from '../support/backend';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('admin');
const admin = () => scratch.client.db('admin');

describe('server parameters', () => {
  it("getParameter '*' lists every parameter; showDetails tells which may change at runtime", async () => {
    const all = await admin().command({ getParameter: '*' });
    expect(all.featureCompatibilityVersion).toHaveProperty('version');
    expect(typeof all.logLevel).toBe('number');
    const detailed = await admin().command({ getParameter: { showDetails: true }, logLevel: 1 });
    expect(detailed.logLevel).toMatchObject({ value: all.logLevel, settableAtRuntime: true });
  });

  it('setParameter answers the previous value and getParameter shows the new one', async () => {
    const { logLevel } = await admin().command({ getParameter: 1, logLevel: 1 });
    try {
      const reply = await admin().command({ setParameter: 1, logLevel: 1 });
      expect(reply.was).toBe(logLevel);
      expect((await admin().command({ getParameter: 1, logLevel: 1 })).logLevel).toBe(1);
    } finally {
      await admin().command({ setParameter: 1, logLevel });
    }
  });

  it('an unknown parameter is refused by both', async () => {
    await serverError(admin().command({ setParameter: 1, noSuchParameter: 1 }));
    await serverError(admin().command({ getParameter: 1, noSuchParameter: 1 }));
  });
});

describe('logical sessions', () => {
  it('$listLocalSessions lists a session the server has seen', async () => {
    const session = scratch.client.startSession();
    try {
      await scratch.db.command({ ping: 1 }, { session });
      const id = session.id!.id.toString('hex');
      const listed = await admin().aggregate([{ $listLocalSessions: { allUsers: true } }]).toArray();
      const mine = listed.find((s) => s._id.id.toString('hex') === id);
      expect(mine).toBeDefined();
      expect(mine!.lastUse).toBeInstanceOf(Date);
      expect(mine!._id.uid.buffer.length).toBe(32);
    } finally {
      await session.endSession();
    }
  });
});

describeWith(['failCommand'], '$listSessions (needs test commands for refreshLogicalSessionCacheNow)', () => {
  it('shows a session once the session cache is written to config.system.sessions', async () => {
    const session = scratch.client.startSession();
    try {
      await scratch.db.command({ ping: 1 }, { session });
      await admin().command({ refreshLogicalSessionCacheNow: 1 });
      const id = session.id!.id.toString('hex');
      const listed = await scratch.client.db('config').collection('system.sessions').aggregate([{ $listSessions: { allUsers: true } }]).toArray();
      expect(listed.some((s) => s._id.id.toString('hex') === id)).toBe(true);
    } finally {
      await session.endSession();
    }
  });
});

describe('replSetFreeze', () => {
  it('is refused on the primary and accepted (and undone) on a secondary', async () => {
    const hello = await admin().command({ hello: 1 });
    expect(await serverError(admin().command({ replSetFreeze: 30 }))).toMatchObject({ code: 95, codeName: 'NotSecondary' });
    const secondary = (hello.hosts as string[]).find((h) => h !== hello.primary);
    if (!secondary) return;
    const direct = new MongoClient(`mongodb://${secondary}/?directConnection=true`, { serverSelectionTimeoutMS: 10_000 });
    try {
      await direct.db('admin').command({ replSetFreeze: 30 });
      expect(await direct.db('admin').command({ replSetFreeze: 0 })).toMatchObject({ ok: 1, info: 'unfreezing' });
    } finally {
      await direct.close();
    }
  });
});

describeWith(['topologyControl'], 'a frozen secondary is not elected (a set of its own)', () => {
  it('replSetStepDown elects the secondary that is not frozen, and keeps the old primary out', async () => {
    const rs = await ReplicaSet.start({ members: 3 });
    const client = new MongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
    try {
      const [first, second, third] = rs.members;
      const direct = new MongoClient(`mongodb://${second.address}/?directConnection=true`);
      await direct.db('admin').command({ replSetFreeze: 60 });
      await direct.close();
      await client.db('admin').command({ replSetStepDown: 60, force: true });
      expect(rs.primary).toBe(third);
      expect(rs.electable).not.toContain(first);
    } finally {
      await client.close();
      await rs.close();
    }
  });
});

describe('currentOp and killOp', () => {
  it('currentOp lists itself with an opid; its other fields filter', async () => {
    const reply = await admin().command({ currentOp: 1, 'command.currentOp': { $exists: true } });
    expect(reply.inprog.length).toBeGreaterThanOrEqual(1);
    expect(reply.inprog[0]).toMatchObject({ active: true, op: 'command' });
    expect(reply.inprog[0].opid).toBeDefined();
  });

  it('killOp interrupts a getMore waiting for data (Interrupted, 11601)', async () => {
    const coll = await scratch.fresh();
    const ns = `${scratch.db.databaseName}.${coll.collectionName}`;
    const watcher = driverClient();
    const stream = watcher.db(scratch.db.databaseName).collection(coll.collectionName).watch([], { maxAwaitTimeMS: 10_000 });
    try {
      // The stream's aggregate, then a getMore that waits up to 10 s for an event.
      const waiting = stream.tryNext().then(() => undefined, (e: unknown) => e);
      let op: Document | undefined;
      for (let i = 0; i < 100 && !op; i++) {
        const { inprog } = await admin().command({ currentOp: 1, ns, op: 'getmore' });
        op = inprog[0];
        if (!op) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(op).toBeDefined();
      expect(await admin().command({ killOp: 1, op: op!.opid })).toMatchObject({ ok: 1 });
      expect(await waiting).toMatchObject({ code: 11601 });
    } finally {
      await stream.close();
      await watcher.close();
    }
  });
});
