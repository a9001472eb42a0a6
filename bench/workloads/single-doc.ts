/**
 * Per-call cost, after the driver benchmark's "single-doc" tasks: run
 * command (ping), find one by `_id`, insert one small document. One
 * iteration is one call, awaited as an async user awaits it
 * (`firstValueFrom` on rxmongo's side), so tinybench's per-iteration
 * quantiles are per-call latencies.
 */
import type { Collection, Db, Document } from 'mongodb';
import { firstValueFrom } from 'rxjs';
import type { RxCollection, RxDatabase } from '../../lib/index';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';
import { smallDoc, tweet } from '../data';
import { minRatio, type Budget, type Variant, type Workload } from '../harness';

interface Keyed extends Document {
  _id: number;
}

interface State {
  pair: ClientPair;
  raw: { db: Db; coll: Collection<Keyed> };
  rx: { db: RxDatabase; coll: RxCollection<Keyed> };
  /** Fresh documents for the next round of inserts (the driver adds `_id` to what it inserts). */
  docs: Document[];
  next: number;
}

const TARGET = minRatio(0.97, '≥ 0.97');

/** Opens both clients on a fresh database; `fill` (untimed) writes what the workload reads. */
function open(ctx: BenchContext, prefix: string, fill?: (state: State) => Promise<void>): Promise<State> {
  return buildOnPair(ctx, {}, async (pair) => {
    const dbName = ctx.dbName(prefix);
    const rawDb = pair.raw.db(dbName);
    const rxDb = pair.rx.db(dbName);
    const state: State = {
      pair,
      raw: { db: rawDb, coll: rawDb.collection<Keyed>('corpus') },
      rx: { db: rxDb, coll: rxDb.collection<Keyed>('corpus') },
      docs: [],
      next: 0,
    };
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

export default function singleDoc(ctx: BenchContext): Workload<State>[] {
  const calls = ctx.quick ? 50 : 1_000;
  const corpus = ctx.quick ? 1_000 : 10_000;
  const budget: Budget = ctx.quick ? { warmupRounds: 1, rounds: 2 } : { warmupRounds: 1, rounds: 16 };

  /** A workload comparing one call on each side. */
  const perCall = (
    id: string,
    order: number,
    unit: string,
    prep: Partial<Variant<State>>,
    raw: (state: State) => Promise<unknown>,
    rx: (state: State) => Promise<unknown>,
    fill?: (state: State) => Promise<void>,
  ): Workload<State> => ({
    id,
    title: id,
    order,
    budget,
    setup: () => open(ctx, id.replace(/\W/g, '_'), fill),
    variants: [
      { key: 'raw', label: 'raw driver', iterations: calls, ...prep, run: async (s) => ((await raw(s)), { ops: 1 }) },
      { key: 'rx', label: 'rxmongo', iterations: calls, ...prep, run: async (s) => ((await rx(s)), { ops: 1 }) },
    ],
    rows: [{ label: id, unit, candidate: 'rx', baseline: 'raw', targets: [TARGET] }],
    teardown: close,
  });

  const findFill = async (state: State): Promise<void> => {
    const docs: Keyed[] = [];
    for (let id = 1; id <= corpus; id++) docs.push({ _id: id, ...tweet(id) });
    await state.raw.coll.insertMany(docs);
  };
  /** A miss means the iteration measured something else. */
  const found = (doc: unknown): void => {
    if (doc === null) throw new Error('findOne found no document');
  };

  /** Untimed, per round: an empty collection and the round's documents. */
  const recreate: Partial<Variant<State>> = {
    async open(state) {
      await state.raw.coll.drop().catch(() => false);
      await state.raw.db.createCollection('corpus');
      state.docs = Array.from({ length: calls }, (_, i) => smallDoc(i));
      state.next = 0;
    },
    async close(state) {
      const count = await state.raw.coll.countDocuments();
      if (count !== calls) throw new Error(`expected ${calls} documents after the round, found ${count}`);
    },
  };

  return [
    perCall(
      'ping',
      10,
      'call',
      {},
      (s) => s.raw.db.command({ ping: 1 }),
      (s) => firstValueFrom(s.rx.db.command({ ping: 1 })),
    ),
    perCall(
      'findOne by _id',
      11,
      'call',
      {},
      async (s) => found(await s.raw.coll.findOne({ _id: (s.next++ % corpus) + 1 })),
      async (s) => found(await firstValueFrom(s.rx.coll.findOne({ _id: (s.next++ % corpus) + 1 }))),
      findFill,
    ),
    perCall(
      'insertOne',
      12,
      'call',
      recreate,
      (s) => s.raw.coll.insertOne(s.docs[s.next++] as Keyed),
      (s) => firstValueFrom(s.rx.coll.insertOne(s.docs[s.next++] as Keyed)),
    ),
  ];
}
