/**
 * Per-call cost, after the driver benchmark's "single-doc" tasks: run
 * command (ping), find one by `_id`, insert one small document. One
 * iteration is one call, awaited as an async user awaits it
 * (`firstValueFrom` on rxmongo's side), so tinybench's per-iteration
 * quantiles are per-call latencies.
 *
 * Two references show what any Observable over the driver costs, written
 * by hand as a user would without rxmongo: rxjs `defer()` around the call
 * (nothing cancelled on unsubscribe), and, where rxmongo hands the driver
 * an `AbortSignal`, an Observable that does the same with an
 * `AbortController` per call. A third is rxmongo itself with
 * `onUnsubscribe: 'ignore'` (no signal handed to the driver).
 */
import type { Collection, Db, Document } from 'mongodb';
import { defer, firstValueFrom, lastValueFrom, Observable } from 'rxjs';
import { RxMongoClient, type RxCollection, type RxDatabase } from '../../lib/index';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';
import { smallDoc, tweet } from '../data';
import { minRatio, type Budget, type Variant, type Workload } from '../harness';

interface Keyed extends Document {
  _id: number;
}

interface RxSide {
  db: RxDatabase;
  coll: RxCollection<Keyed>;
}

interface State {
  pair: ClientPair;
  raw: { db: Db; coll: Collection<Keyed> };
  rx: RxSide;
  /** A third client: rxmongo with `onUnsubscribe: 'ignore'`. */
  ignoring: RxSide;
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
    const side = (client: RxMongoClient): RxSide => {
      const db = client.db(dbName);
      return { db, coll: db.collection<Keyed>('corpus') };
    };
    const ignoring = new RxMongoClient(ctx.backend.uri, { ...ctx.clientOptions, onUnsubscribe: 'ignore' });
    const state: State = {
      pair,
      raw: { db: rawDb, coll: rawDb.collection<Keyed>('corpus') },
      rx: side(pair.rx),
      ignoring: side(ignoring),
      docs: [],
      next: 0,
    };
    try {
      await ignoring.driver.connect();
      await fill?.(state);
    } catch (err) {
      await lastValueFrom(ignoring.close(), { defaultValue: undefined });
      throw err;
    }
    return state;
  });
}

async function close(state: State): Promise<void> {
  try {
    await state.raw.db.dropDatabase();
  } finally {
    await Promise.all([closePair(state.pair), lastValueFrom(state.ignoring.db.client.close(), { defaultValue: undefined })]);
  }
}

export default function singleDoc(ctx: BenchContext): Workload<State>[] {
  const calls = ctx.quick ? 50 : 200;
  const corpus = ctx.quick ? 1_000 : 10_000;
  const budget: Budget = ctx.quick ? { warmupRounds: 1, rounds: 2 } : { warmupRounds: 4, rounds: 80 };

  /**
   * A workload comparing one call on each side. `raw` takes the signal to
   * hand the driver when the call is one rxmongo cancels (`abortable`).
   */
  const perCall = (
    id: string,
    order: number,
    unit: string,
    prep: Partial<Variant<State>>,
    raw: (state: State, signal?: AbortSignal) => Promise<unknown>,
    rx: (side: RxSide, state: State) => Promise<unknown>,
    { abortable = false, fill }: { abortable?: boolean; fill?: (state: State) => Promise<void> } = {},
  ): Workload<State> => {
    const variant = (key: string, label: string, call: (state: State) => Promise<unknown>): Variant<State> => ({
      key,
      label,
      iterations: calls,
      ...prep,
      run: async (s) => ((await call(s)), { ops: 1 }),
    });
    const variants = [
      variant('raw', 'raw driver', (s) => raw(s)),
      variant('rx', 'rxmongo', (s) => rx(s.rx, s)),
      variant('defer', 'rxjs defer() over the driver', (s) => firstValueFrom(defer(() => raw(s)))),
    ];
    if (abortable) {
      variants.push(
        variant('aborting', 'hand-written, aborts on unsubscribe', (s) => firstValueFrom(aborting(s, raw))),
        variant('ignoring', "rxmongo, onUnsubscribe: 'ignore'", (s) => rx(s.ignoring, s)),
      );
    }
    return {
      id,
      title: id,
      order,
      budget,
      collectEachRound: false,
      setup: () => open(ctx, id.replace(/\W/g, '_'), fill),
      variants,
      rows: [{ label: id, unit, candidate: 'rx', baseline: 'raw', references: variants.slice(2).map((v) => v.key), targets: [TARGET] }],
      teardown: close,
    };
  };

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
      (s, signal) => s.raw.db.command({ ping: 1 }, signal && { signal }),
      (side) => firstValueFrom(side.db.command({ ping: 1 })),
      { abortable: true },
    ),
    perCall(
      'findOne by _id',
      11,
      'call',
      {},
      async (s, signal) => found(await s.raw.coll.findOne({ _id: (s.next++ % corpus) + 1 }, signal && { signal })),
      async (side, s) => found(await firstValueFrom(side.coll.findOne({ _id: (s.next++ % corpus) + 1 }))),
      { abortable: true, fill: findFill },
    ),
    perCall(
      'insertOne',
      12,
      'call',
      recreate,
      (s) => s.raw.coll.insertOne(s.docs[s.next++] as Keyed),
      (side, s) => firstValueFrom(side.coll.insertOne(s.docs[s.next++] as Keyed)),
    ),
  ];
}

/** What a user writes by hand to cancel a driver call on unsubscribe: an `AbortController` per call. */
function aborting<S>(state: S, call: (state: S, signal: AbortSignal) => Promise<unknown>): Observable<unknown> {
  return new Observable((subscriber) => {
    const controller = new AbortController();
    let settled = false;
    call(state, controller.signal).then(
      (value) => {
        settled = true;
        subscriber.next(value);
        subscriber.complete();
      },
      (err: unknown) => {
        settled = true;
        subscriber.error(err);
      },
    );
    return () => {
      if (!settled) controller.abort();
    };
  });
}
