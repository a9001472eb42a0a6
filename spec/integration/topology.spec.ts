/**
 * TopologyState on a real driver over real TCP: discovery and step-down on the
 * run's backend (any replica set), membership changes on an in-process wire
 * replica set of the spec's own.
 */
import { MongoClient, MongoNetworkError, type MongoClientOptions } from 'mongodb';
import { filter, firstValueFrom, skip, timeout, type Observable } from 'rxjs';
import { InvalidOperationError } from '../../lib/errors';
import { TopologyState, type TopologySnapshot } from '../../lib/topology';
import { ReplicaSet } from '../server';
import { describeWith, driverClient } from '../support/backend';

/** The driver's minimum; a step is seen within a heartbeat or two. */
const FAST: MongoClientOptions = { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 10_000 };
const WAIT_MS = 20_000;

/** The first value of `source$` meeting `predicate`, or a timeout error naming `what`. */
function until<T, S extends T>(source$: Observable<T>, predicate: (value: T) => value is S, what: string): Promise<S>;
function until<T>(source$: Observable<T>, predicate: (value: T) => boolean, what: string): Promise<T>;
function until<T>(source$: Observable<T>, predicate: (value: T) => boolean, what: string): Promise<T> {
  return firstValueFrom(
    source$.pipe(
      filter(predicate),
      timeout({ first: WAIT_MS, with: () => Promise.reject(new Error(`timed out waiting for ${what}`)) }),
    ),
  );
}

const SDAM_EVENTS = [
  'topologyOpening',
  'topologyClosed',
  'topologyDescriptionChanged',
  'serverDescriptionChanged',
  'serverHeartbeatStarted',
  'serverHeartbeatSucceeded',
  'serverHeartbeatFailed',
] as const;

function sdamListeners(client: MongoClient): number {
  return SDAM_EVENTS.reduce((n, event) => n + client.listenerCount(event), 0);
}

const serverEntry = (d: TopologySnapshot, address: string) => d.servers.find((s) => s.address === address);

describe('TopologyState on the run backend', () => {
  let client: MongoClient;
  let state: TopologyState;
  const others: Array<{ client: MongoClient; state: TopologyState }> = [];

  beforeEach(() => {
    client = driverClient(FAST);
    state = new TopologyState(client);
  });

  afterEach(async () => {
    for (const other of others.splice(0)) {
      other.state.complete();
      await other.client.close();
    }
    state.complete();
    await client.close();
  });

  it('discovers the replica set once a subject is subscribed', async () => {
    expect(state.topologyDescription.type).toBe('Unknown');
    const primary = await until(state.primary$, (p): p is string => p !== null, 'a primary');

    expect(state.address).toBe(primary);
    expect(state.isPrimary).toBe(true);
    expect(state.isMongos).toBe(false);
    const description = await until(
      state.topologyDescription$,
      (d) => d.servers.every((s) => s.type !== 'Unknown'),
      'every member discovered',
    );
    expect(description.type).toBe('ReplicaSetWithPrimary');
    expect(description.setName).toEqual(expect.any(String));
    expect(state.nodes).toEqual(description.servers.map((s) => s.address));
    expect(state.nodes).toContain(primary);
    expect([...state.secondaries, ...state.arbiters, primary].sort()).toEqual([...state.nodes].sort());
    for (const server of description.servers) {
      expect(server.roundTripTime).toEqual(expect.any(Number));
      expect(server.roundTripTime).toBeGreaterThanOrEqual(0);
      expect(server.lastUpdateTime).toBeLessThanOrEqual(Date.now());
      expect(server.error).toBeNull();
      expect(server.setName).toBe(description.setName);
    }
    expect(Object.isFrozen(description) && description.servers.every(Object.isFrozen)).toBe(true);
    expect(JSON.parse(JSON.stringify(description))).toEqual(description);
  });

  it('refreshes on heartbeats that change nothing but time, each subject once per refresh', async () => {
    const counts = { address: 0, primary: 0, secondaries: 0, arbiters: 0, nodes: 0, isPrimary: 0, isMongos: 0 };
    const subs = [
      state.address$.subscribe(() => (counts.address += 1)),
      state.primary$.subscribe(() => (counts.primary += 1)),
      state.secondaries$.subscribe(() => (counts.secondaries += 1)),
      state.arbiters$.subscribe(() => (counts.arbiters += 1)),
      state.nodes$.subscribe(() => (counts.nodes += 1)),
      state.isPrimary$.subscribe(() => (counts.isPrimary += 1)),
      state.isMongos$.subscribe(() => (counts.isMongos += 1)),
    ];
    const primary = await until(state.primary$, (p): p is string => p !== null, 'a primary');
    const seen = serverEntry(state.topologyDescription, primary)!;
    // The primary's entry is rebuilt by later heartbeats while it stays primary.
    const later = await until(
      state.topologyDescription$,
      (d) => {
        const entry = serverEntry(d, primary);
        return entry !== undefined && entry !== seen && entry.type === 'RSPrimary' && entry.lastUpdateTime > seen.lastUpdateTime;
      },
      'a heartbeat refresh of the primary',
    );
    expect(serverEntry(later, primary)!.roundTripTime).toEqual(expect.any(Number));
    await until(state.topologyDescription$.pipe(skip(3)), () => true, 'three more refreshes');
    await new Promise<void>((resolve) => setImmediate(resolve));
    const perSubject = new Set(Object.values(counts));
    expect(perSubject.size).toBe(1);
    expect([...perSubject][0]).toBeGreaterThanOrEqual(5);
    subs.forEach((s) => s.unsubscribe());
  });

  it('moves primary$ and isPrimary$ to the new primary after replSetStepDown', async () => {
    const oldPrimary = await until(state.primary$, (p): p is string => p !== null, 'a primary');
    await until(state.secondaries$, (s) => s.length > 0, 'an electable secondary');
    const direct = new MongoClient(`mongodb://${oldPrimary}/?directConnection=true`, FAST);
    const directState = new TopologyState(direct);
    others.push({ client: direct, state: directState });
    await until(directState.isPrimary$, (p) => p, 'the direct connection to see a primary');
    expect(directState.address).toBe(oldPrimary);

    try {
      // secondaryCatchUpPeriodSecs must stay below the step-down period on mongod.
      await client.db('admin').command({ replSetStepDown: 10, secondaryCatchUpPeriodSecs: 5, force: true });
    } catch (err) {
      // Older servers drop connections as they step down.
      if (!(err instanceof MongoNetworkError)) throw err;
    }

    await until(directState.isPrimary$, (p) => !p, 'the old primary to stop accepting writes');
    const newPrimary = await until(state.primary$, (p) => p !== null && p !== oldPrimary, 'a new primary');
    expect(state.isPrimary).toBe(true);
    expect(state.address).toBe(newPrimary);
    await until(state.secondaries$, (s) => s.includes(oldPrimary), 'the old primary as a secondary');
    const direct$ = directState.topologyDescription$;
    await until(direct$, (d) => d.servers[0]?.type === 'RSSecondary', 'the direct connection to see a secondary');
    expect(directState.address).toBe(oldPrimary);
    expect(directState.isPrimary).toBe(false);
  }, 60_000);

  it('completes every subject and removes every listener it added', async () => {
    const before = sdamListeners(client);
    const watched = new TopologyState(client);
    expect(sdamListeners(client)).toBeGreaterThan(before);
    await until(watched.primary$, (p): p is string => p !== null, 'a primary');
    const completions = [
      watched.address$,
      watched.primary$,
      watched.secondaries$,
      watched.arbiters$,
      watched.nodes$,
      watched.isPrimary$,
      watched.isMongos$,
      watched.topologyDescription$,
    ].map((s$: Observable<unknown>) => firstValueFrom(s$.pipe(skip(1)), { defaultValue: 'completed' }));
    watched.complete();
    // the unknown state is announced first, then every subject completes
    await expect(Promise.all(completions)).resolves.toEqual([null, null, [], [], [], false, false, expect.objectContaining({ type: 'Unknown' })]);
    expect(sdamListeners(client)).toBe(before);
    expect(watched.primary).toBeNull();
  });

  it('reports a failed connection as the description error', async () => {
    const unreachable = new MongoClient('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500&connectTimeoutMS=500');
    const failing = new TopologyState(unreachable);
    others.push({ client: unreachable, state: failing });
    const described = await until(failing.topologyDescription$, (d) => d.error !== null, 'the connection error');
    expect(described.type).toBe('Unknown');
    expect(described.error!.name).toBe('MongoServerSelectionError');
  });
});

describeWith(['topologyControl'], 'TopologyState on a wire replica set under membership control', () => {
  let rs: ReplicaSet | undefined;
  let client: MongoClient | undefined;
  let state: TopologyState | undefined;

  async function start(options: Parameters<typeof ReplicaSet.start>[0]): Promise<{ rs: ReplicaSet; state: TopologyState }> {
    rs = await ReplicaSet.start({ port: 0, ...options });
    client = new MongoClient(rs.uri, { ...FAST, connectTimeoutMS: 2_000 });
    state = new TopologyState(client);
    return { rs, state };
  }

  afterEach(async () => {
    state?.complete();
    await client?.close();
    await rs?.close();
    rs = client = state = undefined;
  });

  it('adds a new member to nodes$ and secondaries$', async () => {
    const { rs, state } = await start({ members: 3 });
    await until(state.secondaries$, (s) => s.length === 2, 'two secondaries');
    const added = await rs.addMember();
    await until(state.secondaries$, (s) => s.includes(added.address), 'the new member as a secondary');
    expect(state.nodes).toContain(added.address);
    expect(state.nodes).toHaveLength(4);
  });

  it('drops a removed member from nodes$ and secondaries$', async () => {
    const { rs, state } = await start({ members: 3 });
    await until(state.nodes$, (n) => n.length === 3, 'three members');
    const removed = rs.members.find((m) => m.role === 'secondary')!;
    await rs.removeMember(removed);
    // It goes Unknown as it stops, and leaves the description once the primary's hello drops it.
    const described = await until(
      state.topologyDescription$,
      (d) => serverEntry(d, removed.address) === undefined,
      'the member to leave the description',
    );
    expect(described.servers).toHaveLength(2);
    expect(state.nodes).toHaveLength(2);
    expect(state.nodes).not.toContain(removed.address);
    expect(state.secondaries).not.toContain(removed.address);
  });

  it('lists an arbiter in arbiters$, not in secondaries$', async () => {
    const { rs, state } = await start({ members: 2, arbiter: true });
    const arbiter = rs.members.find((m) => m.role === 'arbiter')!;
    await until(state.arbiters$, (a) => a.includes(arbiter.address), 'the arbiter');
    expect(state.secondaries).not.toContain(arbiter.address);
    expect(state.nodes).toContain(arbiter.address);
    expect(serverEntry(state.topologyDescription, arbiter.address)!.type).toBe('RSArbiter');
  });

  it('moves primary$ when the set steps down', async () => {
    const { rs, state } = await start({ members: 3 });
    const old = await until(state.primary$, (p): p is string => p !== null, 'a primary');
    rs.stepDown();
    const next = await until(state.primary$, (p) => p !== null && p !== old, 'a new primary');
    expect(next).toBe(rs.members.find((m) => m.role === 'primary')!.address);
  });

  it('mongos mode: isMongos$ true; address raises with several mongoses', async () => {
    const { rs, state } = await start({ members: 2, mongos: true });
    await until(state.isMongos$, (m) => m, 'isMongos');
    await until(state.nodes$, (n) => n.length === 2, 'both mongoses');
    expect(state.topologyDescription.type).toBe('Sharded');
    expect(state.isPrimary).toBe(true);
    expect(state.primary).toBeNull();
    expect(state.secondaries).toEqual([]);
    expect(() => state.address).toThrow(InvalidOperationError);
    expect(state.address$.value).toBeNull();
    expect(rs.members.every((m) => m.role === 'mongos')).toBe(true);
  });

  it('mongos mode with one mongos: address is that mongos', async () => {
    const { rs, state } = await start({ members: 1, mongos: true });
    const address = await until(state.address$, (a) => a !== null, 'an address');
    expect(address).toBe(rs.members[0].address);
    expect(state.isMongos).toBe(true);
  });

  it('shows the error of a member that stops answering, and drops it from nodes$', async () => {
    const { rs, state } = await start({ members: 3 });
    await until(state.nodes$, (n) => n.length === 3, 'three members');
    const silent = rs.members.find((m) => m.role === 'secondary')!;
    await rs.setResponding(silent, false);
    const described = await until(
      state.topologyDescription$,
      (d) => serverEntry(d, silent.address)?.error != null,
      'the silent member to show an error',
    );
    const entry = serverEntry(described, silent.address)!;
    expect(entry.type).toBe('Unknown');
    expect(entry.error!.message).toEqual(expect.any(String));
    expect(entry.error!.message.length).toBeGreaterThan(0);
    expect(state.nodes).not.toContain(silent.address);

    await rs.setResponding(silent, true);
    await until(state.secondaries$, (s) => s.includes(silent.address), 'the member to come back');
    expect(serverEntry(state.topologyDescription, silent.address)!.error).toBeNull();
  });
});
