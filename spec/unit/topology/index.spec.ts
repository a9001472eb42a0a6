import { asapScheduler, firstValueFrom, skip, type Subscription } from 'rxjs';
import { MongoNetworkError, MongoServerSelectionError, ObjectId } from 'mongodb';
import { InvalidOperationError, RxMongoError } from '../../../lib/errors';
import { TopologyState } from '../../../lib/topology';
import { FakeDriver, hello } from './fake-driver';

const A = '127.0.0.1:27017';
const B = '127.0.0.1:27018';
const C = '127.0.0.1:27019';
const D = '127.0.0.1:27020';

/** Lets the refresh queued by the current driver step run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const SUBJECTS = [
  'address$',
  'primary$',
  'secondaries$',
  'arbiters$',
  'nodes$',
  'isPrimary$',
  'isMongos$',
  'topologyDescription$',
] as const;

/** Subscribes to every subject and counts what each delivers. */
function record(state: TopologyState) {
  const counts = Object.fromEntries(SUBJECTS.map((k) => [k, 0])) as Record<(typeof SUBJECTS)[number], number>;
  const completed = new Set<string>();
  const subscriptions: Subscription[] = SUBJECTS.map((key) =>
    (state[key] as TopologyState['address$']).subscribe({
      next: () => (counts[key] += 1),
      complete: () => completed.add(key),
    }),
  );
  return {
    counts,
    completed,
    reset: () => SUBJECTS.forEach((k) => (counts[k] = 0)),
    unsubscribe: () => subscriptions.forEach((s) => s.unsubscribe()),
  };
}

/** A replica set A (primary), B, C (secondaries), D (arbiter), fully discovered. */
async function discoveredReplicaSet(driver: FakeDriver): Promise<void> {
  const set = { hosts: [A, B, C], arbiters: [D], primary: A };
  driver.open([A, B, C]);
  driver.heartbeat(A, hello('primary', { ...set, me: A, tags: { dc: 'east' } }));
  driver.heartbeat(B, hello('secondary', { ...set, me: B }));
  driver.heartbeat(C, hello('secondary', { ...set, me: C }));
  driver.heartbeat(D, hello('arbiter', { ...set, me: D }));
  await settle();
}

describe('TopologyState', () => {
  let driver: FakeDriver;
  let state: TopologyState;

  beforeEach(() => {
    driver = new FakeDriver();
    state = new TopologyState(driver.asClient);
  });

  afterEach(() => state.complete());

  describe('unknown start', () => {
    it('holds empty lists, null addresses and false flags in getters and values', () => {
      expect(state.address).toBeNull();
      expect(state.primary).toBeNull();
      expect(state.secondaries).toEqual([]);
      expect(state.arbiters).toEqual([]);
      expect(state.nodes).toEqual([]);
      expect(state.isPrimary).toBe(false);
      expect(state.isMongos).toBe(false);
      expect(state.topologyDescription).toEqual({
        type: 'Unknown',
        setName: null,
        maxSetVersion: null,
        maxElectionId: null,
        commonWireVersion: 0,
        compatibilityError: null,
        servers: [],
        error: null,
      });
      expect(state.address$.value).toBeNull();
      expect(state.nodes$.value).toEqual([]);
      expect(state.isMongos$.value).toBe(false);
      expect(state.topologyDescription$.value).toBe(state.topologyDescription);
    });

    it('delivers the unknown state to a new subscriber at once', async () => {
      await expect(firstValueFrom(state.primary$)).resolves.toBeNull();
      await expect(firstValueFrom(state.secondaries$)).resolves.toEqual([]);
    });
  });

  describe('connecting', () => {
    it('connects nothing on construction or on reading getters and values', () => {
      void state.primary;
      void state.primary$.value;
      expect(driver.connectCalls).toBe(0);
    });

    it('connects on the first subscription, once while the attempt is pending', () => {
      const first = state.nodes$.subscribe();
      const second = state.primary$.subscribe();
      expect(driver.connectCalls).toBe(1);
      first.unsubscribe();
      second.unsubscribe();
    });

    it('does not connect while the driver reports an open topology', async () => {
      driver.open([A]);
      await settle();
      state.nodes$.subscribe().unsubscribe();
      expect(driver.connectCalls).toBe(0);
    });

    it('shows a failed connection attempt as the description error, not as an unhandled rejection', async () => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown) => rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      try {
        const sub = state.topologyDescription$.subscribe();
        driver.open([A, B]);
        driver.finishConnect(new MongoServerSelectionError('Server selection timed out after 30 ms', {} as never));
        const described = await firstValueFrom(state.topologyDescription$.pipe(skip(1)));
        await settle();
        expect(described.type).toBe('Unknown');
        expect(described.servers).toEqual([]);
        expect(state.topologyDescription.error).toEqual({
          name: 'MongoServerSelectionError',
          message: 'Server selection timed out after 30 ms',
          code: null,
        });
        expect(rejections).toEqual([]);
        sub.unsubscribe();

        // A later subscriber tries again; the new attempt clears the error.
        state.primary$.subscribe().unsubscribe();
        expect(driver.connectCalls).toBe(2);
        driver.open([A]);
        await settle();
        expect(state.topologyDescription.error).toBeNull();
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    });

    it('connects nothing after complete()', () => {
      state.complete();
      state.nodes$.subscribe().unsubscribe();
      expect(driver.connectCalls).toBe(0);
    });
  });

  describe('replica set', () => {
    it('derives Motor properties from the discovered set', async () => {
      await discoveredReplicaSet(driver);
      expect(state.address).toBe(A);
      expect(state.primary).toBe(A);
      expect(state.secondaries).toEqual([B, C]);
      expect(state.arbiters).toEqual([D]);
      expect(state.nodes).toEqual([A, B, C, D]);
      expect(state.isPrimary).toBe(true);
      expect(state.isMongos).toBe(false);
      expect(state.primary$.value).toBe(A);
      expect(state.secondaries$.value).toBe(state.secondaries);
    });

    it('describes every server as frozen, serializable data', async () => {
      const before = Date.now();
      await discoveredReplicaSet(driver);
      const d = state.topologyDescription;
      expect(d.type).toBe('ReplicaSetWithPrimary');
      expect(d.setName).toBe('rs0');
      expect(d.maxSetVersion).toBe(1);
      expect(d.maxElectionId).toBe('7fffffff0000000000000001');
      expect(d.commonWireVersion).toBe(21);
      expect(d.servers.map((s) => [s.address, s.type])).toEqual([
        [A, 'RSPrimary'],
        [B, 'RSSecondary'],
        [C, 'RSSecondary'],
        [D, 'RSArbiter'],
      ]);
      const primary = d.servers[0];
      expect(primary).toMatchObject({
        roundTripTime: 2,
        minRoundTripTime: 2,
        error: null,
        tags: { dc: 'east' },
        setName: 'rs0',
        setVersion: 1,
        electionId: '7fffffff0000000000000001',
        primary: A,
        maxWireVersion: 21,
      });
      expect(primary.lastUpdateTime).toBeGreaterThanOrEqual(before);
      expect(primary.lastUpdateTime).toBeLessThanOrEqual(Date.now());
      expect(JSON.parse(JSON.stringify(d))).toEqual(d);
      expect(Object.isFrozen(d)).toBe(true);
      expect(Object.isFrozen(d.servers)).toBe(true);
      expect(d.servers.every((s) => Object.isFrozen(s) && Object.isFrozen(s.tags))).toBe(true);
      expect(Object.isFrozen(state.nodes)).toBe(true);
      expect(() => (state.nodes as string[]).push(B)).toThrow(TypeError);
    });

    it('moves primary after a step-down', async () => {
      await discoveredReplicaSet(driver);
      const set = { hosts: [A, B, C], arbiters: [D] };
      driver.heartbeat(A, hello('secondary', { ...set, me: A }));
      await settle();
      expect(state.primary).toBeNull();
      expect(state.isPrimary).toBe(false);
      expect(state.address).toBeNull();
      expect(state.topologyDescription.type).toBe('ReplicaSetNoPrimary');

      const next = hello('primary', { ...set, me: B, primary: B, electionId: new ObjectId('7fffffff0000000000000002') });
      driver.heartbeat(B, next);
      await settle();
      expect(state.primary).toBe(B);
      expect(state.isPrimary).toBe(true);
      expect(state.secondaries).toEqual([A, C]);
    });

    it('drops a member that stops answering from nodes and shows its error', async () => {
      await discoveredReplicaSet(driver);
      driver.heartbeatFailed(C, new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:27019'));
      await settle();
      expect(state.nodes).toEqual([A, B, D]);
      expect(state.secondaries).toEqual([B]);
      const entry = state.topologyDescription.servers.find((s) => s.address === C);
      expect(entry).toMatchObject({
        type: 'Unknown',
        roundTripTime: null,
        error: { name: 'MongoNetworkError', message: 'connect ECONNREFUSED 127.0.0.1:27019', code: null },
      });
    });

    it('follows membership the primary reports', async () => {
      await discoveredReplicaSet(driver);
      const grown = { hosts: [A, B, C, '127.0.0.1:27021'], arbiters: [D], primary: A, setVersion: 2 };
      driver.heartbeat(A, hello('primary', { ...grown, me: A }));
      await settle();
      expect(state.topologyDescription.servers.map((s) => s.address)).toContain('127.0.0.1:27021');
      driver.heartbeat('127.0.0.1:27021', hello('secondary', { ...grown, me: '127.0.0.1:27021' }));
      await settle();
      expect(state.secondaries).toEqual([B, C, '127.0.0.1:27021']);

      const shrunk = { hosts: [A, B], arbiters: [], primary: A, setVersion: 3 };
      driver.heartbeat(A, hello('primary', { ...shrunk, me: A }));
      await settle();
      expect(state.nodes).toEqual([A, B]);
      expect(state.secondaries).toEqual([B]);
      expect(state.arbiters).toEqual([]);
    });
  });

  describe('emissions', () => {
    it('emits once per subject for each heartbeat, reusing unchanged values', async () => {
      await discoveredReplicaSet(driver);
      const rec = record(state);
      expect(Object.values(rec.counts)).toEqual(SUBJECTS.map(() => 1));
      rec.reset();
      const before = state.topologyDescription;
      const nodes = state.nodes;
      const secondaries = state.secondaries;

      const set = { hosts: [A, B, C], arbiters: [D], primary: A };
      driver.heartbeat(B, hello('secondary', { ...set, me: B }), 7);
      await settle();

      expect(Object.values(rec.counts)).toEqual(SUBJECTS.map(() => 1));
      const after = state.topologyDescription;
      expect(after).not.toBe(before);
      expect(after.servers[1].roundTripTime).toBe(7);
      expect(after.servers[1].lastUpdateTime).toBeGreaterThanOrEqual(before.servers[1].lastUpdateTime);
      // untouched servers and unchanged derived values are the same frozen objects
      expect(after.servers[0]).toBe(before.servers[0]);
      expect(after.servers[2]).toBe(before.servers[2]);
      expect(state.nodes).toBe(nodes);
      expect(state.secondaries).toBe(secondaries);
      rec.unsubscribe();
    });

    it('emits once per subject when a heartbeat also changes the description', async () => {
      await discoveredReplicaSet(driver);
      const rec = record(state);
      rec.reset();
      driver.heartbeatFailed(B, new MongoNetworkError('closed'));
      await settle();
      expect(Object.values(rec.counts)).toEqual(SUBJECTS.map(() => 1));
      rec.unsubscribe();
    });

    it('gives callers no way to push', () => {
      for (const key of SUBJECTS) {
        const subject = state[key] as unknown as Record<string, unknown>;
        expect(subject.next).toBeUndefined();
        expect(subject.error).toBeUndefined();
        expect(subject.complete).toBeUndefined();
        expect(() => {
          subject.value = 'x';
        }).toThrow(TypeError);
      }
    });

    it('delivers on the given scheduler', async () => {
      const scheduled = new TopologyState(driver.asClient, { scheduler: asapScheduler });
      const seen: unknown[] = [];
      const sub = scheduled.primary$.subscribe((p) => seen.push(p));
      expect(seen).toEqual([]);
      await settle();
      expect(seen).toEqual([null]);
      sub.unsubscribe();
      scheduled.complete();
    });
  });

  describe('other deployments', () => {
    it('standalone: address and isPrimary, no replica-set lists', async () => {
      driver.open([A], 'Single', null);
      driver.heartbeat(A, hello('standalone'));
      await settle();
      expect(state.address).toBe(A);
      expect(state.isPrimary).toBe(true);
      expect(state.primary).toBeNull();
      expect(state.secondaries).toEqual([]);
      expect(state.nodes).toEqual([A]);
      expect(state.isMongos).toBe(false);
    });

    it('direct connection to a secondary: its address, not writable', async () => {
      driver.open([B], 'Single', null);
      driver.heartbeat(B, hello('secondary', { hosts: [A, B], primary: A, me: B }));
      await settle();
      expect(state.address).toBe(B);
      expect(state.isPrimary).toBe(false);
      expect(state.secondaries).toEqual([]);
    });

    it('one mongos: isMongos and its address', async () => {
      driver.open([A], 'Unknown', null);
      driver.heartbeat(A, hello('mongos'));
      await settle();
      expect(state.topologyDescription.type).toBe('Sharded');
      expect(state.isMongos).toBe(true);
      expect(state.isPrimary).toBe(true);
      expect(state.address).toBe(A);
      expect(state.address$.value).toBe(A);
    });

    it('several mongoses: reading address raises InvalidOperationError', async () => {
      driver.open([A, B], 'Unknown', null);
      driver.heartbeat(A, hello('mongos'));
      driver.heartbeat(B, hello('mongos'));
      await settle();
      expect(state.isMongos).toBe(true);
      expect(state.nodes).toEqual([A, B]);
      expect(() => state.address).toThrow(InvalidOperationError);
      expect(() => state.address).toThrow(RxMongoError);
      expect(state.address$.value).toBeNull();
    });

    it('load balanced: isMongos, and reading address raises', async () => {
      driver.openLoadBalanced(A);
      await settle();
      expect(state.topologyDescription.type).toBe('LoadBalanced');
      expect(state.topologyDescription.servers[0].type).toBe('LoadBalancer');
      expect(state.isMongos).toBe(true);
      expect(state.isPrimary).toBe(true);
      expect(() => state.address).toThrow(InvalidOperationError);
    });
  });

  describe('without the driver exposing its live description', () => {
    it('falls back to the descriptions the change events carry', async () => {
      const eventsOnly = new FakeDriver(false);
      const fallback = new TopologyState(eventsOnly.asClient);
      await discoveredReplicaSet(eventsOnly);
      expect(eventsOnly.topology).toBeUndefined();
      expect(fallback.primary).toBe(A);
      expect(fallback.secondaries).toEqual([B, C]);
      fallback.complete();
    });
  });

  describe('closing', () => {
    it('returns to the unknown state when the driver closes its topology', async () => {
      await discoveredReplicaSet(driver);
      driver.close();
      await settle();
      expect(state.primary).toBeNull();
      expect(state.nodes).toEqual([]);
      expect(state.topologyDescription.type).toBe('Unknown');
    });

    it('complete(): announces the unknown state once, completes every subject, removes every listener', async () => {
      const listenersBefore = driver.sdamListenerCount();
      expect(listenersBefore).toBeGreaterThan(0);
      await discoveredReplicaSet(driver);
      const rec = record(state);
      rec.reset();

      state.complete();
      expect(Object.values(rec.counts)).toEqual(SUBJECTS.map(() => 1));
      expect([...rec.completed].sort()).toEqual([...SUBJECTS].sort());
      expect(state.primary).toBeNull();
      expect(state.topologyDescription.type).toBe('Unknown');
      expect(driver.sdamListenerCount()).toBe(0);
      expect(driver.eventNames()).toEqual([]);

      // later driver events change nothing; later subscribers just complete
      driver.heartbeat(A, hello('primary', { hosts: [A], me: A, primary: A }));
      await settle();
      expect(state.primary).toBeNull();
      const late = { values: 0, completed: false };
      state.primary$.subscribe({ next: () => (late.values += 1), complete: () => (late.completed = true) });
      expect(late).toEqual({ values: 0, completed: true });
      state.complete();
    });

    it('complete() on an unknown state only completes', () => {
      const rec = record(state);
      rec.reset();
      state.complete();
      expect(Object.values(rec.counts)).toEqual(SUBJECTS.map(() => 0));
      expect(rec.completed.size).toBe(SUBJECTS.length);
    });
  });
});
