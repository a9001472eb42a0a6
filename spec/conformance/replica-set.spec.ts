/**
 * Replica-set semantics through the stock driver: discovery, writes refused
 * by secondaries with the labels that make the driver retry, reads that need
 * secondaryOk; and, on an in-process set of the spec's own, stepdown (as a
 * command and from the test), membership changes, members that stop
 * answering, arbiters and mongos routers — each pushed to the driver's
 * monitors at once through the streaming hello.
 */
import {
  MongoClient,
  MongoServerError,
  type Document,
  type MongoClientOptions,
  type TopologyDescription,
} from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith, driverClient, uniqueDbName } from '../support/backend';
import { WireClient, opMsg, sectionBytes } from './wire-client';

const WAIT_MS = 15_000;

/** Resolves with the first topology description meeting `predicate` (the current one included). */
function topologyWhere(
  client: MongoClient,
  predicate: (d: TopologyDescription) => boolean,
  what: string,
): Promise<TopologyDescription> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('topologyDescriptionChanged', listener);
      reject(new Error(`timed out waiting for ${what}`));
    }, WAIT_MS);
    const listener = (event: { newDescription: TopologyDescription }) => {
      if (!predicate(event.newDescription)) return;
      clearTimeout(timer);
      client.off('topologyDescriptionChanged', listener);
      resolve(event.newDescription);
    };
    client.on('topologyDescriptionChanged', listener);
  });
}

/** Keeps the client's newest topology description (the driver exposes no public getter). */
function track(client: MongoClient): () => TopologyDescription {
  let latest: TopologyDescription | undefined;
  client.on('topologyDescriptionChanged', (event) => (latest = event.newDescription));
  return () => {
    if (!latest) throw new Error('no topology description yet');
    return latest;
  };
}

const typesOf = (d: TopologyDescription) => [...d.servers.values()].map((s) => s.type).sort();
const primaryOf = (d: TopologyDescription) => [...d.servers.values()].find((s) => s.type === 'RSPrimary')?.address;

async function directClient(address: string, options: MongoClientOptions = {}): Promise<MongoClient> {
  const client = new MongoClient(`mongodb://${address}/?directConnection=true`, { serverSelectionTimeoutMS: 10_000, ...options });
  await client.connect();
  return client;
}

describe('replica-set semantics on the run backend', () => {
  let client: MongoClient;
  let described: () => TopologyDescription;
  let hello: Document;
  const dbName = uniqueDbName('rs');

  beforeAll(async () => {
    client = driverClient();
    described = track(client);
    const discovered = topologyWhere(client, (d) => d.type === 'ReplicaSetWithPrimary' && typesOf(d).every((t) => t !== 'Unknown'), 'full discovery');
    await client.connect();
    hello = await client.db('admin').command({ hello: 1 });
    await discovered.catch(() => undefined);
  });

  afterAll(async () => {
    await client.db(dbName).dropDatabase();
    await client.close();
  });

  /** A secondary now: another spec file on the same deployment may have stepped the primary down since beforeAll. */
  const secondary = async (): Promise<string> => {
    const now = await client.db('admin').command({ hello: 1 });
    return (now.hosts as string[]).find((h) => h !== now.primary)!;
  };

  it('is discovered as ReplicaSetWithPrimary with every member', () => {
    const description = described();
    expect(description.type).toBe('ReplicaSetWithPrimary');
    expect(description.setName).toBe(hello.setName);
    expect([...description.servers.keys()].sort()).toEqual([...hello.hosts, ...(hello.arbiters ?? [])].sort());
    expect(primaryOf(description)).toBe(hello.primary);
  });

  it('refuses a write on a secondary with NotWritablePrimary, labelled retryable for a retryable write', async () => {
    const direct = await directClient(await secondary());
    const session = direct.startSession();
    try {
      const plain = await direct.db(dbName).command({ insert: 'c', documents: [{ a: 1 }] }).catch((e: unknown) => e);
      expect(plain).toBeInstanceOf(MongoServerError);
      expect(plain).toMatchObject({ code: 10107, codeName: 'NotWritablePrimary' });
      expect((plain as MongoServerError).hasErrorLabel('RetryableWriteError')).toBe(false);

      const retryable = await direct
        .db(dbName)
        .command({ insert: 'c', documents: [{ a: 2 }], txnNumber: 1 }, { session })
        .catch((e: unknown) => e);
      expect(retryable).toMatchObject({ code: 10107 });
      expect((retryable as MongoServerError).hasErrorLabel('RetryableWriteError')).toBe(true);
    } finally {
      await session.endSession();
      await direct.close();
    }
  });

  it('refuses a read on a secondary without secondaryOk, and serves it with one', async () => {
    await client.db(dbName).collection('reads').insertOne({ _id: 'r' } as Document, { writeConcern: { w: 'majority' } });
    const wire = await WireClient.open(await secondary());
    try {
      const refused = await wire.command(dbName, { find: 'reads', filter: {} });
      expect(refused.doc).toMatchObject({ ok: 0, code: 13435, codeName: 'NotPrimaryNoSecondaryOk' });
      const message = opMsg(sectionBytes([{ kind: 0, doc: { find: 'reads', filter: {}, $db: dbName, $readPreference: { mode: 'secondaryPreferred' } } }]));
      wire.send(message);
      const served = await wire.next();
      expect(served.doc.ok).toBe(1);
    } finally {
      wire.close();
    }
  });
});

describeWith(['topologyControl'], 'replica-set changes on an in-process set', () => {
  let rs: ReplicaSet;
  let client: MongoClient;
  let described: () => TopologyDescription;

  async function start(options: Parameters<typeof ReplicaSet.start>[0], heartbeatFrequencyMS = 60_000): Promise<void> {
    rs = await ReplicaSet.start(options);
    // Heartbeats are rare by default: only the streamed hello can make the driver see a change in time.
    client = new MongoClient(rs.uri, { heartbeatFrequencyMS, serverSelectionTimeoutMS: 10_000 });
    described = track(client);
    const full = topologyWhere(client, (d) => typesOf(d).every((t) => t !== 'Unknown'), 'discovery of every member');
    await client.connect();
    await full;
  }

  afterEach(async () => {
    await client?.close();
    await rs?.close();
  });

  const counterOf = async (address: string) => {
    const direct = await directClient(address);
    try {
      return BigInt((await direct.db('admin').command({ hello: 1 })).topologyVersion.counter);
    } finally {
      await direct.close();
    }
  };

  it('steps down on replSetStepDown sent through the driver; another member takes over', async () => {
    await start({ members: 3 });
    const [oldPrimary, next] = rs.members;
    const before = await counterOf(next.address);
    // The driver may first mark the old primary Unknown (a newer primary appeared), then hear from it.
    const changed = topologyWhere(
      client,
      (d) => primaryOf(d) === next.address && d.servers.get(oldPrimary.address)?.type === 'RSSecondary',
      'the new primary, and the old one as a secondary',
    );
    await client.db('admin').command({ replSetStepDown: 60 });
    await changed;
    expect(await counterOf(next.address)).toBeGreaterThan(before);
    const direct = await directClient(oldPrimary.address);
    try {
      await expect(direct.db('admin').command({ replSetStepDown: 60 })).rejects.toMatchObject({ code: 10107 });
    } finally {
      await direct.close();
    }
  });

  it('refuses replSetStepDown with no electable secondary unless forced', async () => {
    await start({ members: 1 });
    await expect(client.db('admin').command({ replSetStepDown: 10 })).rejects.toMatchObject({
      code: 262,
      codeName: 'ExceededTimeLimit',
    });
    expect(rs.primary).toBe(rs.members[0]);
  });

  it('steps down from the test (rs.stepDown) and retryable writes follow the new primary', async () => {
    await start({ members: 3 });
    const collection = client.db('rs').collection('after-stepdown');
    await collection.insertOne({ n: 1 });
    const next = rs.members[1];
    const changed = topologyWhere(client, (d) => primaryOf(d) === next.address, 'the new primary');
    expect(rs.stepDown()).toBe(next);
    await changed;
    await collection.insertOne({ n: 2 });
    expect(await collection.countDocuments()).toBe(2);
  });

  it('aborts open transactions on stepdown', async () => {
    await start({ members: 3 });
    const collection = client.db('rs').collection('txn-stepdown');
    await collection.insertOne({ seed: true });
    const session = client.startSession();
    try {
      session.startTransaction();
      await collection.insertOne({ inTxn: true }, { session });
      const changed = topologyWhere(client, (d) => primaryOf(d) === rs.members[1].address, 'the new primary');
      rs.stepDown();
      await changed;
      const error = await session.commitTransaction().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 251, codeName: 'NoSuchTransaction' });
      expect(await collection.countDocuments({ inTxn: true })).toBe(0);
    } finally {
      await session.endSession();
    }
  });

  it('adds a member that the driver discovers at once', async () => {
    await start({ members: 3 });
    const grown = topologyWhere(client, (d) => d.servers.size === 4 && typesOf(d).every((t) => t !== 'Unknown'), 'four members');
    const added = await rs.addMember();
    const description = await grown;
    expect(description.servers.get(added.address)?.type).toBe('RSSecondary');
    expect(description.type).toBe('ReplicaSetWithPrimary');
  });

  it('removes a secondary and then the primary, electing another', async () => {
    await start({ members: 3 });
    const [primary, , third] = rs.members;
    const shrunk = topologyWhere(client, (d) => d.servers.size === 2 && !d.servers.has(third.address), 'two members');
    await rs.removeMember(third);
    await shrunk;
    const reelected = topologyWhere(
      client,
      (d) => !d.servers.has(primary.address) && primaryOf(d) === rs.members[0].address,
      'a new primary after removing the old one',
    );
    await rs.removeMember(primary);
    const description = await reelected;
    expect(description.servers.size).toBe(1);
    expect(description.type).toBe('ReplicaSetWithPrimary');
  });

  it('makes a member stop and resume answering', async () => {
    // A member that stopped answering has no stream; the driver finds it again at its next heartbeat.
    await start({ members: 3 }, 500);
    const member = rs.members[2];
    const down = topologyWhere(client, (d) => d.servers.get(member.address)?.type === 'Unknown', 'the member to be unknown');
    await rs.setResponding(member, false);
    await down;
    const up = topologyWhere(client, (d) => d.servers.get(member.address)?.type === 'RSSecondary', 'the member to return');
    await rs.setResponding(member, true);
    await up;
  });

  it('reports an arbiter that holds no data', async () => {
    await start({ members: 2, arbiter: true });
    const arbiter = rs.members[2];
    expect(described().servers.get(arbiter.address)?.type).toBe('RSArbiter');
    const direct = await directClient(arbiter.address);
    try {
      const hello = await direct.db('admin').command({ hello: 1 });
      expect(hello).toMatchObject({ arbiterOnly: true, isWritablePrimary: false, secondary: false });
      await expect(direct.db('x').command({ find: 'c' })).rejects.toBeInstanceOf(MongoServerError);
    } finally {
      await direct.close();
    }
  });

  it('acts as mongos routers (msg: isdbgrid) for sharded topologies', async () => {
    await start({ members: 2, mongos: true });
    const description = described();
    expect(description.type).toBe('Sharded');
    expect(typesOf(description)).toEqual(['Mongos', 'Mongos']);
    const hello = await client.db('admin').command({ hello: 1 });
    expect(hello).toMatchObject({ msg: 'isdbgrid', isWritablePrimary: true });
    expect(hello.setName).toBeUndefined();
    await expect(client.db('admin').command({ replSetGetStatus: 1 })).rejects.toMatchObject({ code: 59 });
    const collection = client.db('routed').collection('c');
    await collection.insertOne({ via: 'mongos' });
    expect(await collection.countDocuments()).toBe(1);
  });
});
