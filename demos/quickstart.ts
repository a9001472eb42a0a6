/**
 * The README's examples, runnable: `npm run demo:quickstart` (uses the
 * ladder's server, or MONGODB_URI). Each section is what the README shows.
 */
import { concat, filter, firstValueFrom, lastValueFrom, map, switchMap, take, toArray } from 'rxjs';
import { MemoryCheckpointStore, RxMongoClient } from '../lib';
import { startBackend } from '../spec/support/ladder';

interface Order {
  _id?: string;
  sku: string;
  qty: number;
}

async function main(): Promise<void> {
  const server = await startBackend({ force: process.env.MONGODB_URI ? 'uri' : 'wire' });
  const uri = server.uri;
  try {
    // 1. Cold Observables: nothing is sent until subscribe.
    const client = new RxMongoClient(uri);
    const orders = client.db('quickstart_shop').collection<Order>('orders');
    await lastValueFrom(orders.deleteMany({}));
    const big = await lastValueFrom(
      orders.insertMany([{ sku: 'a', qty: 3 }, { sku: 'b', qty: 12 }]).pipe(
        switchMap(() => orders.find({ qty: { $gt: 10 } }, { projection: { _id: 0 } })),
        toArray(),
      ),
    );
    console.log('1. big orders:', big);

    // 2. Stop early: no further batch is read and the server cursor is killed.
    await lastValueFrom(orders.insertMany(Array.from({ length: 500 }, (_, i) => ({ sku: `s${i}`, qty: i }))));
    const firstFive = await lastValueFrom(orders.find({}, { batchSize: 100, sort: { qty: 1 } }).pipe(take(5), map((o) => o.sku), toArray()));
    console.log('2. first five:', firstFive.join(' '));

    // 3. A transaction: commits on complete, aborts on error or unsubscribe.
    const accounts = client.db('quickstart_bank').collection<{ _id: string; balance: number }>('accounts');
    await lastValueFrom(accounts.deleteMany({}));
    await lastValueFrom(accounts.insertMany([{ _id: 'alice', balance: 100 }, { _id: 'bob', balance: 0 }]));
    await lastValueFrom(
      client.withSession((session) =>
        session.withTransaction(() =>
          concat(
            accounts.updateOne({ _id: 'alice' }, { $inc: { balance: -10 } }, { session }),
            accounts.updateOne({ _id: 'bob' }, { $inc: { balance: 10 } }, { session }),
          ),
        ),
      ),
    );
    console.log('3. balances:', await lastValueFrom(accounts.find({}, { sort: { _id: 1 } }).pipe(toArray())));

    // 4. Topology that emits.
    const primary = await firstValueFrom(client.primary$.pipe(filter((p) => p !== null)));
    console.log('4. primary:', primary, 'nodes:', client.nodes.join(' '));

    // 5. One change stream for every subscriber, checkpointed.
    const store = new MemoryCheckpointStore();
    const changes$ = orders.watch([{ $match: { operationType: 'insert' } }], {
      checkpoint: { store, key: 'orders-feed', every: { events: 100, ms: 1_000 } },
    });
    const seen = lastValueFrom(changes$.pipe(map((c) => (c.operationType === 'insert' ? c.fullDocument.sku : '')), take(3), toArray()));
    const counted = lastValueFrom(changes$.pipe(take(3), toArray()));
    await firstValueFrom(changes$.status$.pipe(filter((s) => s.type === 'opened')));
    await lastValueFrom(orders.insertMany([{ sku: 'x', qty: 1 }, { sku: 'y', qty: 2 }, { sku: 'z', qty: 3 }]));
    console.log('5. seen by two subscribers on one cursor:', (await seen).join(' '), (await counted).length);

    // 6. Acknowledged consumption: the checkpoint moves after the handler completes.
    const handled: string[] = [];
    const projector$ = orders.watch([{ $match: { operationType: 'insert' } }], { checkpoint: { store, key: 'projector' } });
    const opened = firstValueFrom(projector$.status$.pipe(filter((s) => s.type === 'opened')));
    const consumer = projector$
      .consume(async (change) => {
        if (change.operationType === 'insert') handled.push(change.fullDocument.sku);
      }, { highWaterMark: 50 })
      .subscribe();
    await opened;
    await lastValueFrom(orders.insertOne({ sku: 'w', qty: 4 }));
    while (handled.length < 1) await new Promise((r) => setTimeout(r, 20));
    consumer.unsubscribe();
    console.log('6. consumed:', handled.join(' '));

    await lastValueFrom(client.close());
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
