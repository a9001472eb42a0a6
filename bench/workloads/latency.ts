/**
 * Insert → handler latency: a third client inserts one document at a time;
 * the time runs from the insert call to the watcher's handler seeing its
 * event. The raw side is a driver ChangeStream in emitter mode
 * (`on('change')`, what a live dashboard uses), rxmongo a `watch()` with one
 * subscriber. Each round opens its stream (untimed) and waits until events
 * flow before measuring.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type ChangeStream, type Collection } from 'mongodb';
import type { Subscription } from 'rxjs';
import type { RxChangeStream, RxCollection } from '../../lib/index';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';
import { quartiles } from '../stats';
import { figureTarget, type Variant, type Workload, type WorkloadResult } from '../harness';
import { whenClosed } from '../streams';

/** A watcher that does not see an insert within this long is broken: the round fails (a hang guard, not a timing check). */
const LOST_MS = 10_000;
const ADDED = 'added µs at p50';

interface State {
  pair: ClientPair;
  writer: MongoClient;
  raw: Collection;
  rx: RxCollection;
  writes: Collection;
  seq: number;
  waiter: ((t: number) => void) | undefined;
  failure: unknown;
  stop: (() => Promise<void>) | undefined;
}

/** The handler both sides call: when the event is seen. */
function arrived(state: State): void {
  const t = performance.now();
  const waiter = state.waiter;
  state.waiter = undefined;
  waiter?.(t);
}

/** Inserts one document and resolves with the time until a handler saw an event. */
async function insertAndWait(state: State): Promise<number> {
  if (state.failure !== undefined) throw state.failure;
  let timer: NodeJS.Timeout | undefined;
  const seen = new Promise<number>((resolve, reject) => {
    state.waiter = resolve;
    timer = setTimeout(() => reject(new Error(`no change event ${LOST_MS} ms after an insert`)), LOST_MS);
  });
  const t0 = performance.now();
  try {
    await state.writes.insertOne({ seq: state.seq++ });
    return (await seen) - t0;
  } finally {
    clearTimeout(timer);
    state.waiter = undefined;
  }
}

/** Untimed: inserts until the fresh stream delivers, then lets stragglers land. */
async function warm(state: State): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const seen = new Promise<boolean>((resolve) => {
      state.waiter = () => resolve(true);
      setTimeout(() => resolve(false), 100).unref();
    });
    await state.writes.insertOne({ seq: state.seq++, warm: true });
    if (await seen) {
      await sleep(50);
      state.waiter = undefined;
      return;
    }
  }
  throw new Error('the change stream delivered nothing after 100 inserts');
}

export default function latency(ctx: BenchContext): Workload<State> {
  const inserts = ctx.quick ? 20 : 200;
  const common: Pick<Variant<State>, 'iterations' | 'run' | 'close'> = {
    iterations: inserts,
    run: async (state) => ({ ops: 1, ms: await insertAndWait(state) }),
    async close(state) {
      await state.stop?.();
      state.stop = undefined;
      if (state.failure !== undefined) throw state.failure;
    },
  };
  return {
    id: 'latency',
    title: 'insert → handler latency',
    order: 40,
    budget: ctx.quick ? { warmupRounds: 0, rounds: 2 } : { warmupRounds: 1, rounds: 10 },
    setup: () =>
      buildOnPair(ctx, {}, async (pair) => {
        const dbName = ctx.dbName('latency');
        await pair.raw.db(dbName).createCollection('events');
        const writer = new MongoClient(ctx.backend.uri, ctx.clientOptions);
        await writer.connect();
        return {
          pair,
          writer,
          raw: pair.raw.db(dbName).collection('events'),
          rx: pair.rx.db(dbName).collection('events'),
          writes: writer.db(dbName).collection('events'),
          seq: 0,
          waiter: undefined,
          failure: undefined,
          stop: undefined,
        };
      }),
    variants: [
      {
        key: 'raw',
        label: "raw ChangeStream, on('change')",
        ...common,
        async open(state) {
          const stream: ChangeStream = state.raw.watch();
          stream.on('change', () => arrived(state));
          stream.on('error', (err) => (state.failure ??= err));
          state.stop = () => stream.close();
          await warm(state);
        },
      },
      {
        key: 'rx',
        label: 'rxmongo watch(), 1 subscriber',
        ...common,
        async open(state) {
          const stream: RxChangeStream = state.rx.watch();
          const closed = whenClosed(stream);
          const subscription: Subscription = stream.subscribe({ next: () => arrived(state), error: (err: unknown) => (state.failure ??= err) });
          state.stop = async () => {
            subscription.unsubscribe();
            await closed;
          };
          await warm(state);
        },
      },
    ],
    rows: [
      {
        label: 'insert → handler latency',
        unit: 'event',
        candidate: 'rx',
        baseline: 'raw',
        targets: [figureTarget('≤ 50 µs added at p50', ADDED, (us) => us <= 50, ' µs')],
        figures: (r) => latencyFigures(r),
      },
    ],
    async teardown(state) {
      try {
        await state.stop?.();
        await state.pair.raw.db(state.raw.dbName).dropDatabase();
      } finally {
        await Promise.all([state.writer.close(), closePair(state.pair)]);
      }
    },
  };
}

/** p50 and p99 per side (medians over rounds) and what rxmongo adds, as the median of same-round differences. */
function latencyFigures(r: WorkloadResult): Record<string, number> {
  const raw = r.variants.raw;
  const rx = r.variants.rx;
  const n = Math.min(raw.rounds.length, rx.rounds.length);
  const added = (q: 'p50Ms' | 'p99Ms'): number => quartiles(Array.from({ length: n }, (_, i) => (rx.rounds[i][q] - raw.rounds[i][q]) * 1000)).median;
  return {
    'raw p50 µs': raw.p50Us,
    'rx p50 µs': rx.p50Us,
    [ADDED]: added('p50Ms'),
    'raw p99 µs': raw.p99Us,
    'rx p99 µs': rx.p99Us,
    'added µs at p99': added('p99Ms'),
  };
}
