/**
 * A client whose first server selection failed (nothing listening yet)
 * works once the server is up: the driver keeps the topology it closed
 * after that failure, and without rxmongo's recovery every later operation
 * fails with "Topology is closed". Runs on a wire replica set of its own,
 * started on a port chosen beforehand, a few seconds late.
 */
import { createServer } from 'node:net';
import { MongoServerSelectionError } from 'mongodb';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { RxMongoClient } from '../../lib/client/client';
import { ReplicaSet } from '../server';
import { describeWith } from '../support/backend';

/** A port nothing listens on (yet). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWith(['topologyControl'], 'a client started before its server', () => {
  let rs: ReplicaSet | undefined;
  let client: RxMongoClient | undefined;

  afterEach(async () => {
    await client?.close();
    await rs?.close();
    rs = client = undefined;
  });

  async function unreachableClient(): Promise<{ port: number; client: RxMongoClient }> {
    const port = await freePort();
    client = new RxMongoClient(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=500&connectTimeoutMS=500&heartbeatFrequencyMS=500`);
    return { port, client };
  }

  it('fails its first operation, then works once the server is up', async () => {
    const { port, client } = await unreachableClient();
    const db = client.db('recovering');
    await expect(firstValueFrom(db.command({ ping: 1 }))).rejects.toBeInstanceOf(MongoServerSelectionError);
    rs = await ReplicaSet.start({ members: 1, port });
    await expect(firstValueFrom(db.command({ ping: 1 }))).resolves.toMatchObject({ ok: 1 });
    const items = db.collection('items');
    await firstValueFrom(items.insertOne({ _id: 1 } as never));
    await expect(lastValueFrom(items.find().pipe(toArray()))).resolves.toEqual([{ _id: 1 }]);
  });

  it('connect() rejects while nothing listens and resolves once the server comes up a few seconds later', async () => {
    const { port, client } = await unreachableClient();
    await expect(client.connect()).rejects.toBeInstanceOf(MongoServerSelectionError);
    const late = delay(2_000).then(async () => {
      rs = await ReplicaSet.start({ members: 1, port });
    });
    // Retried the way an application would: each attempt is a new subscribe (cold) or call.
    let attempts = 0;
    for (;;) {
      attempts += 1;
      try {
        await client.connect();
        break;
      } catch (err) {
        expect(err).toBeInstanceOf(MongoServerSelectionError);
        if (attempts > 20) throw err;
      }
    }
    await late;
    expect(attempts).toBeGreaterThan(1);
    await expect(firstValueFrom(client.db('recovering').command({ ping: 1 }))).resolves.toMatchObject({ ok: 1 });
  });
});
