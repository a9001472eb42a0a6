/**
 * A deployment with authentication on, as `mongod --auth` runs it: clients
 * authenticate with SCRAM-SHA-256 (or SCRAM-SHA-1), a wrong password is
 * AuthenticationFailed (18), an unauthenticated or unprivileged command
 * Unauthorized (13); users are managed with createUser, usersInfo and
 * dropUser; the first user may be created from localhost; and a forged
 * `$clusterTime` is refused. Needs a set started with auth, hence the gate.
 */
import { MongoClient, MongoServerError, Timestamp, type AuthMechanism, type Document } from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith } from '../support/backend';
import { serverError } from '../support/server-error';
import { WireClient } from './wire-client';

function clientFor(rs: ReplicaSet, credentials?: { user: string; pwd: string; source?: string; mechanism?: AuthMechanism }): MongoClient {
  return new MongoClient(rs.uri, {
    serverSelectionTimeoutMS: 10_000,
    ...(credentials
      ? {
        auth: { username: credentials.user, password: credentials.pwd },
        authSource: credentials.source ?? 'admin',
        ...(credentials.mechanism ? { authMechanism: credentials.mechanism } : {}),
      }
      : {}),
  });
}

describeWith(['topologyControl'], 'authentication (a set of its own, started with auth)', () => {
  let rs: ReplicaSet;
  const clients: MongoClient[] = [];
  const open = (credentials?: Parameters<typeof clientFor>[1]) => {
    const client = clientFor(rs, credentials);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    rs = await ReplicaSet.start({ members: 3, auth: { users: [{ user: 'admin', pwd: 'secret' }] } });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await rs.close();
  });

  it('a client with the right credentials reads and writes (SCRAM-SHA-256)', async () => {
    const client = open({ user: 'admin', pwd: 'secret' });
    await client.db('app').collection('c').insertOne({ _id: 1 } as Document);
    expect(await client.db('app').collection('c').countDocuments()).toBe(1);
    const status = await client.db('admin').command({ connectionStatus: 1 });
    expect(status.authInfo.authenticatedUsers).toEqual([{ user: 'admin', db: 'admin' }]);
  });

  it('SCRAM-SHA-1 works for a user created with both mechanisms', async () => {
    const client = open({ user: 'admin', pwd: 'secret', mechanism: 'SCRAM-SHA-1' });
    expect(await client.db('admin').command({ ping: 1 })).toMatchObject({ ok: 1 });
  });

  it('a wrong password is AuthenticationFailed (18)', async () => {
    const client = open({ user: 'admin', pwd: 'wrong' });
    const error = await client.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({ code: 18 });
  });

  it('without credentials only the handshake and ping work; anything else is Unauthorized (13)', async () => {
    const client = open();
    expect(await client.db('admin').command({ ping: 1 })).toMatchObject({ ok: 1 });
    expect(await serverError(client.db('app').collection('c').findOne({}))).toMatchObject({ code: 13, codeName: 'Unauthorized' });
  });

  it('createUser, usersInfo and dropUser; a read-only user may read but not write', async () => {
    const admin = open({ user: 'admin', pwd: 'secret' });
    await admin.db('app').command({ createUser: 'reader', pwd: 'r3ad', roles: ['read'] });
    const { users } = await admin.db('app').command({ usersInfo: 'reader' });
    expect(users).toEqual([expect.objectContaining({
      _id: 'app.reader', user: 'reader', db: 'app', roles: [{ role: 'read', db: 'app' }], mechanisms: ['SCRAM-SHA-1', 'SCRAM-SHA-256'],
    })]);
    expect((await serverError(admin.db('app').command({ createUser: 'reader', pwd: 'x', roles: [] }))).code).toBe(51003);

    const reader = open({ user: 'reader', pwd: 'r3ad', source: 'app' });
    expect(await reader.db('app').collection('c').countDocuments()).toBeGreaterThanOrEqual(0);
    expect((await serverError(reader.db('app').collection('c').insertOne({ x: 1 }))).code).toBe(13);
    expect((await serverError(reader.db('other').collection('c').findOne({}))).code).toBe(13);

    await admin.db('app').command({ dropUser: 'reader' });
    expect((await admin.db('app').command({ usersInfo: 'reader' })).users).toEqual([]);
    expect((await serverError(admin.db('app').command({ dropUser: 'reader' }))).code).toBe(11);
  });

  it('a $clusterTime newer than the server\'s with a signature that does not verify is refused', async () => {
    const [host, port] = rs.primary!.address.split(':');
    const wire = await WireClient.open(`${host}:${port}`);
    try {
      const { doc: first } = await wire.command('admin', { ping: 1, $db: 'admin' });
      const signed = first.$clusterTime as Document;
      expect(signed.signature.keyId.toString()).not.toBe('0');
      // The time it was given, gossiped back, is fine.
      expect((await wire.command('admin', { ping: 1, $db: 'admin', $clusterTime: signed })).doc.ok).toBe(1);
      const ahead = new Timestamp({ t: signed.clusterTime.high + 3600, i: 1 });
      const forged = { clusterTime: ahead, signature: signed.signature };
      const { doc } = await wire.command('admin', { ping: 1, $db: 'admin', $clusterTime: forged });
      expect(doc).toMatchObject({ ok: 0, code: 204, codeName: 'TimeProofMismatch' });
    } finally {
      wire.close();
    }
  });
});

describeWith(['topologyControl'], 'the localhost exception (a set of its own, auth and no users)', () => {
  it('lets a client on localhost create the first user, and nothing more', async () => {
    const rs = await ReplicaSet.start({ members: 1, auth: {} });
    const client = clientFor(rs);
    try {
      await client.db('admin').command({ createUser: 'first', pwd: 'pw', roles: ['root'] });
      expect((await serverError(client.db('admin').command({ createUser: 'second', pwd: 'pw', roles: ['root'] }))).code).toBe(13);
    } finally {
      await client.close();
      await rs.close();
    }
  });
});
