/**
 * Multi-document workloads, after the driver benchmark's "multi-doc" tasks:
 * find and drain the whole corpus, and one ordered insertMany.
 */
import type { Collection, Db, Document } from 'mongodb';
import { count, lastValueFrom } from 'rxjs';
import type { RxCollection } from '../../lib';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';
import { smallDoc, tweet } from '../data';
import type { Workload } from '../harness';

const CURSOR_TARGET = { minRatio: 0.95, text: 'rxmongo ≥ 0.95 × raw' };

interface State {
  pair: ClientPair;
  raw: { db: Db; coll: Collection };
  rx: RxCollection;
  docs: Document[];
}

/** Opens both clients on a fresh database; `fill` (untimed) writes what the workload reads. */
function open(ctx: BenchContext, prefix: string, fill?: (state: State) => Promise<void>): Promise<State> {
  return buildOnPair(ctx, {}, async (pair) => {
    const dbName = ctx.dbName(prefix);
    const db = pair.raw.db(dbName);
    const state: State = { pair, raw: { db, coll: db.collection('corpus') }, rx: pair.rx.db(dbName).collection('corpus'), docs: [] };
    await fill?.(state);
    return state;
  });
}

async function close(state: State): Promise<void> {
  try {
    await state.raw.db.dropDatabase();
  } finally {
    await closePair(state.pair);
  }
}

export function multiDocWorkloads(ctx: BenchContext): Workload<State>[] {
  // The spec's 10k; --quick halves it to stay short.
  const size = ctx.quick ? 5_000 : 10_000;
  const family = 'multi-doc';

  const find: Workload<State> = {
    name: `find, drain ${size / 1000}k docs`,
    family,
    unit: 'document',
    scale: size,
    target: CURSOR_TARGET,
    setup: () =>
      open(ctx, 'find_many', async (state) => {
        // The driver generates the _ids, as the spec's setup says.
        await state.raw.coll.insertMany(Array.from({ length: size }, (_, i) => tweet(i)));
      }),
    raw: {
      // The driver's own fastest drain: whole batches, no per-document await.
      label: 'raw driver (toArray)',
      async run({ raw }) {
        const docs = await raw.coll.find({}).toArray();
        return { ops: docs.length };
      },
    },
    rxmongo: {
      label: 'rxmongo',
      async run({ rx }) {
        return { ops: await lastValueFrom(rx.find({}).pipe(count())) };
      },
    },
    teardown: close,
  };

  const insertMany: Workload<State> = {
    name: `insertMany ${size / 1000}k small docs`,
    family,
    unit: 'document',
    scale: size,
    target: CURSOR_TARGET,
    setup: () => open(ctx, 'insert_many'),
    raw: {
      label: 'raw driver',
      before: prepareInsert(size),
      async run({ raw, docs }) {
        const result = await raw.coll.insertMany(docs, { ordered: true });
        return { ops: result.insertedCount };
      },
    },
    rxmongo: {
      label: 'rxmongo',
      before: prepareInsert(size),
      async run({ rx, docs }) {
        const result = await lastValueFrom(rx.insertMany(docs, { ordered: true }));
        return { ops: result.insertedCount };
      },
    },
    teardown: close,
  };

  return [find, insertMany];
}

/** The spec's "before task", untimed: an empty `corpus` and fresh documents (the driver adds `_id`s to them). */
function prepareInsert(size: number): (state: State) => Promise<void> {
  return async (state) => {
    await state.raw.coll.drop().catch(() => false);
    await state.raw.db.createCollection('corpus');
    state.docs = Array.from({ length: size }, (_, i) => smallDoc(i));
  };
}
