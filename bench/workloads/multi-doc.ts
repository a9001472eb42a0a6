/**
 * Bulk cost, after the driver benchmark's "multi-doc" tasks: find and
 * collect the whole corpus (both sides into an array), and one ordered
 * insertMany. One iteration is one call over the whole corpus.
 */
import type { Collection, Db, Document } from 'mongodb';
import { lastValueFrom, toArray } from 'rxjs';
import type { RxCollection } from '../../lib/index';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';
import { smallDoc, tweet } from '../data';
import type { Budget, Variant, Workload } from '../harness';

interface State {
  pair: ClientPair;
  raw: { db: Db; coll: Collection };
  rx: RxCollection;
  docs: Document[];
}

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

export default function multiDoc(ctx: BenchContext): Workload<State>[] {
  const size = ctx.quick ? 2_000 : 10_000;
  const budget: Budget = ctx.quick ? { warmupRounds: 1, rounds: 2 } : { warmupRounds: 1, rounds: 8 };
  const label = `${size / 1000}k`;

  const expectSize = (n: number): number => {
    if (n !== size) throw new Error(`expected ${size} documents, got ${n}`);
    return n;
  };

  /** Untimed, per iteration: an empty collection and fresh documents (the driver adds `_id`s to them). */
  const recreate: Partial<Variant<State>> = {
    async prepare(state) {
      await state.raw.coll.drop().catch(() => false);
      await state.raw.db.createCollection('corpus');
      state.docs = Array.from({ length: size }, (_, i) => smallDoc(i));
    },
    async check(state) {
      expectSize(await state.raw.coll.countDocuments());
    },
  };

  return [
    {
      id: `find ${label}`,
      title: `find, ${size} documents into an array`,
      order: 20,
      budget,
      // The driver generates the _ids, as the driver benchmark's setup says.
      setup: () => open(ctx, 'find_many', async (s) => void (await s.raw.coll.insertMany(Array.from({ length: size }, (_, i) => tweet(i))))),
      variants: [
        { key: 'raw', label: 'raw driver, toArray()', run: async (s) => ({ ops: expectSize((await s.raw.coll.find({}).toArray()).length) }) },
        { key: 'rx', label: 'rxmongo, toArray()', run: async (s) => ({ ops: expectSize((await lastValueFrom(s.rx.find({}).pipe(toArray()))).length) }) },
      ],
      rows: [{ label: `find ${label}`, unit: 'document', candidate: 'rx', baseline: 'raw' }],
      teardown: close,
    },
    {
      id: `insertMany ${label}`,
      title: `insertMany, ${size} small documents, ordered`,
      order: 21,
      budget,
      setup: () => open(ctx, 'insert_many'),
      variants: [
        { key: 'raw', label: 'raw driver', ...recreate, run: async (s) => ({ ops: (await s.raw.coll.insertMany(s.docs, { ordered: true })).insertedCount }) },
        {
          key: 'rx',
          label: 'rxmongo',
          ...recreate,
          run: async (s) => ({ ops: (await lastValueFrom(s.rx.insertMany(s.docs, { ordered: true }))).insertedCount }),
        },
      ],
      rows: [{ label: `insertMany ${label}`, unit: 'document', candidate: 'rx', baseline: 'raw' }],
      teardown: close,
    },
  ];
}
