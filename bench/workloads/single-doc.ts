/**
 * Single-document workloads, after the driver benchmark's "single-doc"
 * tasks: run command, find one by `_id`, small-document insertOne. Each run
 * sends `scale` operations one after the other.
 *
 * The rxmongo side is written the way an Rx user sequences calls
 * (`concatMap` over the ids, one subscription per run), so it includes what
 * RxJS itself costs per call, not only rxmongo's bridge.
 */
import type { Collection, Db, Document } from 'mongodb';
import { concatMap, count, filter, from, lastValueFrom, range } from 'rxjs';
import type { RxCollection, RxDatabase } from '../../lib';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';
import { smallDoc, tweet } from '../data';
import type { Workload } from '../harness';

const SINGLE_DOC_TARGET = { minRatio: 0.95, text: 'rxmongo ≥ 0.95 × raw' };

interface Keyed extends Document {
  _id: number;
}

interface State {
  pair: ClientPair;
  raw: { db: Db; coll: Collection };
  rx: { db: RxDatabase; coll: RxCollection };
  /** `corpus` typed with numeric `_id`s, for findOne by `_id`. */
  keyed: { raw: Collection<Keyed>; rx: RxCollection<Keyed> };
  /** Fresh documents for the next insert run (the driver adds `_id` to what it inserts). */
  docs: Document[];
}

/** Opens both clients on a fresh database; `fill` (untimed) writes what the workload reads. */
function open(ctx: BenchContext, prefix: string, fill?: (state: State) => Promise<void>): Promise<State> {
  return buildOnPair(ctx, {}, async (pair) => {
    const dbName = ctx.dbName(prefix);
    const rawDb = pair.raw.db(dbName);
    const rxDb = pair.rx.db(dbName);
    const state: State = {
      pair,
      raw: { db: rawDb, coll: rawDb.collection('corpus') },
      rx: { db: rxDb, coll: rxDb.collection('corpus') },
      keyed: { raw: rawDb.collection<Keyed>('corpus'), rx: rxDb.collection<Keyed>('corpus') },
      docs: [],
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

/**
 * The spec's "before task" for inserts, untimed: drop and re-create
 * `corpus`, and make the documents to insert.
 */
function recreate(ops: number): (state: State) => Promise<void> {
  return async (state) => {
    await state.raw.coll.drop().catch(() => false);
    await state.raw.db.createCollection('corpus');
    state.docs = Array.from({ length: ops }, (_, i) => smallDoc(i));
  };
}

export function singleDocWorkloads(ctx: BenchContext): Workload<State>[] {
  const ops = ctx.quick ? 500 : 2_000;
  const corpus = ctx.quick ? 2_000 : 10_000;
  const family = 'single-doc';

  const ping: Workload<State> = {
    name: 'run command (ping)',
    family,
    unit: 'command',
    scale: ops,
    target: SINGLE_DOC_TARGET,
    setup: () => open(ctx, 'ping'),
    raw: {
      label: 'raw driver',
      async run({ raw }) {
        for (let i = 0; i < ops; i++) await raw.db.command({ ping: 1 });
        return { ops };
      },
    },
    rxmongo: {
      label: 'rxmongo',
      async run({ rx }) {
        const done = await lastValueFrom(range(0, ops).pipe(concatMap(() => rx.db.command({ ping: 1 })), count()));
        return { ops: done };
      },
    },
    teardown: close,
  };

  const findOne: Workload<State> = {
    name: 'findOne by _id',
    family,
    unit: 'document',
    scale: ops,
    target: SINGLE_DOC_TARGET,
    setup: () =>
      open(ctx, 'find_one', async (state) => {
        const docs: Keyed[] = [];
        for (let id = 1; id <= corpus; id++) docs.push({ _id: id, ...tweet(id) });
        await state.keyed.raw.insertMany(docs);
      }),
    raw: {
      label: 'raw driver',
      async run({ keyed }) {
        let found = 0;
        for (let i = 0; i < ops; i++) {
          if (await keyed.raw.findOne({ _id: (i % corpus) + 1 })) found++;
        }
        return { ops: allFound(found, ops) };
      },
    },
    rxmongo: {
      label: 'rxmongo',
      async run({ keyed }) {
        const found = await lastValueFrom(
          range(0, ops).pipe(
            concatMap((i) => keyed.rx.findOne({ _id: (i % corpus) + 1 })),
            filter((doc) => doc !== null),
            count(),
          ),
        );
        return { ops: allFound(found, ops) };
      },
    },
    teardown: close,
  };

  const insertOne: Workload<State> = {
    name: 'insertOne (small doc)',
    family,
    unit: 'document',
    scale: ops,
    target: SINGLE_DOC_TARGET,
    setup: () => open(ctx, 'insert_one'),
    raw: {
      label: 'raw driver',
      before: recreate(ops),
      async run({ raw, docs }) {
        for (const doc of docs) await raw.coll.insertOne(doc);
        return { ops };
      },
      after: expectCount(ops),
    },
    rxmongo: {
      label: 'rxmongo',
      before: recreate(ops),
      async run({ rx, docs }) {
        const done = await lastValueFrom(from(docs).pipe(concatMap((doc) => rx.coll.insertOne(doc)), count()));
        return { ops: done };
      },
      after: expectCount(ops),
    },
    teardown: close,
  };

  return [ping, findOne, insertOne];
}

/** A miss means the run measured something else: fail it rather than report a rate. */
function allFound(found: number, expected: number): number {
  if (found !== expected) throw new Error(`findOne found ${found} of ${expected} documents`);
  return found;
}

/** Checks, untimed, that a run really wrote what it claims. */
function expectCount(expected: number): (state: State) => Promise<void> {
  return async ({ raw }) => {
    const actual = await raw.coll.countDocuments();
    if (actual !== expected) throw new Error(`expected ${expected} documents after the run, found ${actual}`);
  };
}
