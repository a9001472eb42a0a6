/**
 * Snapshot handoff: a collection's documents, read at one cluster time,
 * then the change stream opened just after it — by rxmongo's
 * `watch([], { initialSnapshot: true })` (until `opened`, every document
 * delivered) against the same steps written by hand with the raw driver:
 * the snapshot time from a snapshot read, the documents read at it with a
 * cursor command, then a change stream at the next operation time, its
 * cursor opened. Both read in batches of the same size. Per document.
 */
import { once } from 'node:events';
import { Timestamp, type Db } from 'mongodb';
import { filter, firstValueFrom } from 'rxjs';
import type { RxCollection } from '../../lib/index';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';
import { smallDoc } from '../data';
import type { Iteration, Variant, Workload, WorkloadResult } from '../harness';

/** Both sides read in batches of this many documents (rxmongo's default for a plain subscriber: its bufferSize). */
const BATCH = 10_000;

interface State {
  pair: ClientPair;
  db: Db;
  rx: RxCollection;
  documents: number;
}

const rawHandoff: Variant<State> = {
  key: 'raw',
  label: 'raw driver: snapshot read, then watch at the next operation time',
  async run({ db, documents }): Promise<Iteration> {
    const reply = await db.command({ find: 'docs', filter: {}, limit: 1, singleBatch: true, readConcern: { level: 'snapshot' } });
    const time = reply.cursor.atClusterTime as Timestamp;
    const cursor = db
      .runCursorCommand({ aggregate: 'docs', pipeline: [{ $sort: { _id: 1 } }], cursor: { batchSize: BATCH }, readConcern: { level: 'snapshot', atClusterTime: time } })
      .setBatchSize(BATCH);
    let read = 0;
    for await (const doc of cursor) if (doc !== null) read += 1;
    const stream = db.collection('docs').watch([], { startAtOperationTime: new Timestamp({ t: time.t, i: time.i + 1 }) });
    // Open: the aggregate answered (as rxmongo's 'opened'), not the first await-data getMore.
    const opened = once(stream, 'resumeTokenChanged');
    const reading = stream.tryNext().catch(() => null);
    await opened;
    await stream.close();
    await reading;
    if (read !== documents) throw new Error(`raw handoff read ${read} of ${documents} documents`);
    return { ops: read };
  },
};

const rxHandoff: Variant<State> = {
  key: 'rx',
  label: "rxmongo: watch([], { initialSnapshot: true }) until 'opened'",
  async run({ rx, documents }): Promise<Iteration> {
    const stream = rx.watch([], { initialSnapshot: true, batchSize: BATCH });
    const opened = firstValueFrom(stream.status$.pipe(filter((s) => s.type === 'opened')));
    let read = 0;
    let all!: () => void;
    const delivered = new Promise<void>((resolve) => (all = resolve));
    const subscription = stream.subscribe({
      next: (event) => {
        if (event.operationType === 'snapshot' && ++read === documents) all();
      },
    });
    await Promise.all([opened, delivered]);
    const closed = firstValueFrom(stream.status$.pipe(filter((s) => s.type === 'closed')));
    subscription.unsubscribe();
    await closed;
    return { ops: read };
  },
};

export default function snapshot(ctx: BenchContext): Workload<State> {
  const documents = ctx.quick ? 2_000 : 20_000;
  return {
    id: 'snapshot',
    title: `snapshot handoff, ${documents} documents`,
    order: 76,
    budget: ctx.quick ? { warmupRounds: 0, rounds: 1 } : { warmupRounds: 1, rounds: 8 },
    setup: () =>
      buildOnPair(ctx, {}, async (pair) => {
        const dbName = ctx.dbName('snapshot');
        const db = pair.raw.db(dbName);
        const coll = await db.createCollection('docs');
        for (let from = 0; from < documents; from += 5_000) {
          await coll.insertMany(Array.from({ length: Math.min(5_000, documents - from) }, (_, i) => smallDoc(from + i)), { ordered: false });
        }
        return { pair, db, rx: pair.rx.db(dbName).collection('docs'), documents };
      }),
    variants: [rawHandoff, rxHandoff],
    rows: [
      {
        label: 'initialSnapshot handoff',
        unit: 'document',
        candidate: 'rx',
        baseline: 'raw',
        figures: (r: WorkloadResult) => ({
          'documents/s': r.variants.rx?.usPerOp ? Math.round(1e6 / r.variants.rx.usPerOp) : '?',
          'raw documents/s': r.variants.raw?.usPerOp ? Math.round(1e6 / r.variants.raw.usPerOp) : '?',
        }),
      },
    ],
    async teardown({ pair, db }) {
      try {
        await db.dropDatabase();
      } finally {
        await closePair(pair);
      }
    },
  };
}
