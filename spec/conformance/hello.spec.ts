/**
 * `hello`: the handshake fields drivers rely on, the awaitable form
 * (`topologyVersion` + `maxAwaitTimeMS`) and its streaming (moreToCome)
 * use by the driver's monitors, seen through SDAM heartbeat events.
 */
import { MongoClient, MongoServerError, ObjectId, type Document, type ServerHeartbeatSucceededEvent } from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith, driverClient } from '../support/backend';
import { EXHAUST_ALLOWED, MORE_TO_COME, OP_MSG, WireClient, opMsg, sectionBytes } from './wire-client';

async function helloOn(address: string, command: Document): Promise<Document> {
  const client = new MongoClient(`mongodb://${address}/?directConnection=true`, { serverSelectionTimeoutMS: 10_000 });
  try {
    return await client.db('admin').command(command);
  } finally {
    await client.close();
  }
}

describe('hello on the run backend', () => {
  let client: MongoClient;
  let primary: string;

  beforeAll(async () => {
    client = driverClient();
    primary = (await client.db('admin').command({ hello: 1 })).primary;
  });

  afterAll(async () => {
    await client.close();
  });

  it('describes a writable primary of a replica set', async () => {
    const hello = await helloOn(primary, { hello: 1 });
    expect(hello).toMatchObject({ ok: 1, isWritablePrimary: true, secondary: false, me: primary, primary });
    expect(typeof hello.setName).toBe('string');
    expect(hello.hosts).toContain(primary);
    expect(hello.maxWireVersion).toBeGreaterThanOrEqual(17);
    expect(hello.maxBsonObjectSize).toBe(16 * 1024 * 1024);
    expect(hello.logicalSessionTimeoutMinutes).toBeGreaterThan(0);
    expect(hello.topologyVersion.processId).toBeDefined();
    expect(hello.topologyVersion.counter).toBeDefined();
  });

  it('describes secondaries as not writable', async () => {
    const hosts: string[] = (await client.db('admin').command({ hello: 1 })).hosts;
    for (const host of hosts.filter((h) => h !== primary)) {
      const hello = await helloOn(host, { hello: 1 });
      expect(hello).toMatchObject({ isWritablePrimary: false, secondary: true, me: host, primary });
    }
  });

  it('answers the legacy isMaster with ismaster', async () => {
    const reply = await helloOn(primary, { isMaster: 1 });
    expect(reply.ismaster).toBe(true);
    expect(reply.isWritablePrimary).toBeUndefined();
  });

  it('waits up to maxAwaitTimeMS when the topologyVersion is current', async () => {
    const { topologyVersion } = await helloOn(primary, { hello: 1 });
    const started = Date.now();
    const reply = await helloOn(primary, { hello: 1, topologyVersion, maxAwaitTimeMS: 400 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(reply.topologyVersion.processId.equals(topologyVersion.processId)).toBe(true);
  });

  it('answers at once when the topologyVersion is from another process', async () => {
    const { topologyVersion } = await helloOn(primary, { hello: 1 });
    const other = { processId: new ObjectId(), counter: topologyVersion.counter };
    const reply = await helloOn(primary, { hello: 1, topologyVersion: other, maxAwaitTimeMS: 20_000 });
    expect(reply.topologyVersion.processId.equals(topologyVersion.processId)).toBe(true);
  });

  it.each([
    ['maxAwaitTimeMS without topologyVersion', { maxAwaitTimeMS: 100 }],
    ['topologyVersion without maxAwaitTimeMS', { topologyVersion: 'filled in below' }],
    ['a negative maxAwaitTimeMS', { topologyVersion: 'filled in below', maxAwaitTimeMS: -1 }],
  ])('rejects %s', async (_what, extra) => {
    const { topologyVersion } = await helloOn(primary, { hello: 1 });
    const command: Document = { hello: 1, ...extra };
    if (command.topologyVersion) command.topologyVersion = topologyVersion;
    const error = await helloOn(primary, command).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(typeof (error as MongoServerError).code).toBe('number');
  });

  it('streams heartbeats to the driver (awaited, with moreToCome)', async () => {
    const monitored = driverClient({ serverMonitoringMode: 'stream', heartbeatFrequencyMS: 500 });
    const awaited: ServerHeartbeatSucceededEvent[] = [];
    // The first awaited event may be the handshake; the third from one server must come from the stream.
    const seen = new Promise<void>((resolve) => {
      monitored.on('serverHeartbeatSucceeded', (event) => {
        if (event.awaited && event.connectionId === primary) awaited.push(event);
        if (awaited.length >= 3) resolve();
      });
    });
    try {
      await monitored.connect();
      await seen;
      expect(awaited[2].reply.topologyVersion).toBeDefined();
      expect(awaited[2].reply.isWritablePrimary).toBe(true);
    } finally {
      await monitored.close();
    }
  });

  it('streams awaitable hello replies over a raw exhaust connection', async () => {
    const wire = await WireClient.open(primary);
    try {
      const first = await wire.command('admin', { hello: 1 });
      const message = opMsg(
        sectionBytes([{ kind: 0, doc: { hello: 1, topologyVersion: first.doc.topologyVersion, maxAwaitTimeMS: 300, $db: 'admin' } }]),
        { flags: EXHAUST_ALLOWED },
      );
      wire.send(message);
      const a = await wire.next();
      const b = await wire.next();
      expect(a).toMatchObject({ opCode: OP_MSG, responseTo: message.requestId });
      expect(a.flags & MORE_TO_COME).toBe(MORE_TO_COME);
      expect(b.flags & MORE_TO_COME).toBe(MORE_TO_COME);
      expect(b.responseTo).toBe(a.requestId);
      expect(b.doc.isWritablePrimary).toBe(true);
    } finally {
      wire.close();
    }
  });
});

describeWith(['topologyControl'], 'streaming hello on an in-process set', () => {
  let rs: ReplicaSet;

  beforeEach(async () => {
    rs = await ReplicaSet.start({ members: 3 });
  });

  afterEach(async () => {
    await rs.close();
  });

  it('wakes a waiting hello with a newer topologyVersion when the topology changes', async () => {
    const address = rs.members[1].address;
    const { topologyVersion } = await helloOn(address, { hello: 1 });
    const waiting = helloOn(address, { hello: 1, topologyVersion, maxAwaitTimeMS: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    rs.stepDown();
    const reply = await waiting;
    expect(BigInt(reply.topologyVersion.counter)).toBeGreaterThan(BigInt(topologyVersion.counter));
    expect(reply.isWritablePrimary).toBe(true);
  });

  it('pushes a topology change to a streaming monitor long before its heartbeat is due', async () => {
    const client = new MongoClient(rs.uri, { serverMonitoringMode: 'stream', heartbeatFrequencyMS: 60_000 });
    try {
      await client.connect();
      const newPrimary = rs.members[1].address;
      const elected = new Promise<Document>((resolve) =>
        client.on('serverHeartbeatSucceeded', (event) => {
          if (event.awaited && event.connectionId === newPrimary && event.reply.isWritablePrimary) resolve(event.reply);
        }),
      );
      rs.stepDown();
      // Without the streamed reply the driver would next ask in 60 s, past the spec's timeout.
      const reply = await elected;
      expect(reply.primary).toBe(newPrimary);
    } finally {
      await client.close();
    }
  });

  it('rejects a topologyVersion counter newer than its own', async () => {
    const address = rs.primary!.address;
    const { topologyVersion } = await helloOn(address, { hello: 1 });
    const future = { processId: topologyVersion.processId, counter: BigInt(topologyVersion.counter) + 10n };
    await expect(helloOn(address, { hello: 1, topologyVersion: future, maxAwaitTimeMS: 10 })).rejects.toMatchObject({
      code: 31382,
    });
  });
});
