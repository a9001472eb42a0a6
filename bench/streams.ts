/**
 * Shared by the change-stream workloads: a collection whose change history
 * holds `events` inserts from a known operation time, so every run of every
 * side drains the same events from the same point without waiting for a
 * producer; and the three ways a user can hand those events to K callbacks:
 * one raw driver ChangeStream with a loop over the callbacks, rxjs `share()`
 * over that stream, and one rxmongo `watch()` with K subscribers. Each
 * callback only counts, so what is measured is the delivery.
 */
import type { ChangeStreamDocument, Collection, Db, Document, Timestamp } from 'mongodb';
import { filter, firstValueFrom, Observable, share, type Subscription } from 'rxjs';
import type { RxChangeStream, RxCollection } from '../lib/index';
import { buildOnPair, closePair, ChangeStreamCounter, type BenchContext, type ClientPair } from './context';
import type { Iteration, Target, Variant, WorkloadResult } from './harness';
import { NO_PROBE, type Probe } from './memory';

interface History {
  pair: ClientPair;
  dbName: string;
  db: Db;
  coll: Collection;
  /** Operation time of the first event; `startAtOperationTime` for every run. */
  start: Timestamp;
  /** Events in the history from `start` on. */
  events: number;
}

/** A history, rxmongo's handle on the same collection, and a count of the server cursors rxmongo opens. */
export interface StreamState {
  history: History;
  rx: RxCollection;
  rxCommands: ChangeStreamCounter;
}

/**
 * Opens a client pair (with command monitoring on both, to count server
 * cursors) and writes `events` documents made by `make`: the first alone,
 * in a session whose operation time marks the start, the rest in bulk.
 */
async function writeHistory(ctx: BenchContext, prefix: string, events: number, make: (i: number) => Document): Promise<History> {
  return buildOnPair(ctx, { monitorCommands: true }, async (pair) => {
    const dbName = ctx.dbName(prefix);
    const db = pair.raw.db(dbName);
    const coll = await db.createCollection('events');
    const session = pair.raw.startSession();
    let start: Timestamp | undefined;
    try {
      await coll.insertOne(make(0), { session });
      start = session.operationTime;
    } finally {
      await session.endSession();
    }
    if (!start) throw new Error('the server reported no operationTime; change streams need a replica set');
    const chunk = 5_000;
    for (let from = 1; from < events; from += chunk) {
      const docs: Document[] = [];
      for (let i = from; i < Math.min(events, from + chunk); i++) docs.push(make(i));
      await coll.insertMany(docs, { ordered: false });
    }
    return { pair, dbName, db, coll, start, events };
  });
}

async function dropHistory(history: History): Promise<void> {
  try {
    await history.db.dropDatabase();
  } finally {
    await closePair(history.pair);
  }
}

export async function openStreams(ctx: BenchContext, prefix: string, events: number, make: (i: number) => Document): Promise<StreamState> {
  const history = await writeHistory(ctx, prefix, events, make);
  return {
    history,
    rx: history.pair.rx.db(history.dbName).collection('events'),
    rxCommands: new ChangeStreamCounter(history.pair.rx.driver),
  };
}

export async function closeStreams(state: StreamState): Promise<void> {
  state.rxCommands.detach();
  await dropHistory(state.history);
}

/** What a user writes by hand: one driver ChangeStream, a loop over K callbacks. */
export function rawLoop(k: number): Variant<StreamState> {
  return {
    key: `raw:${k}`,
    label: k === 1 ? 'raw ChangeStream' : `raw ChangeStream + loop over ${k} callbacks`,
    memory: true,
    async run({ history }, probe) {
      const { coll, start, events } = history;
      const seen = new Array<number>(k).fill(0);
      const callbacks = seen.map((_, j) => (_change: unknown) => {
        seen[j] += 1;
      });
      const half = Math.ceil(events / 2);
      const stream = coll.watch([], { startAtOperationTime: start });
      try {
        for (let i = 1; i <= events; i++) {
          const change = await stream.next();
          for (const callback of callbacks) callback(change);
          if (probe.live && (i === 1 || i === half)) probe.sample(i);
        }
      } finally {
        await stream.close();
      }
      expectAll(seen, events);
      return { ops: k * events };
    },
  };
}

/** The Rx way without rxmongo: rxjs `share()` over one driver ChangeStream. */
export function shared(k: number): Variant<StreamState> {
  return {
    key: `share:${k}`,
    label: 'rxjs share() over 1 raw ChangeStream',
    memory: true,
    async run({ history }, probe) {
      const { coll, start, events } = history;
      let closed: Promise<void> = Promise.resolve();
      const source = new Observable<ChangeStreamDocument>((subscriber) => {
        const stream = coll.watch([], { startAtOperationTime: start });
        let stopped = false;
        closed = (async () => {
          try {
            for (let i = 0; i < events && !stopped; i++) subscriber.next(await stream.next());
          } catch (err) {
            if (!stopped) subscriber.error(err);
          } finally {
            await stream.close();
          }
          subscriber.complete();
        })();
        return () => {
          stopped = true;
        };
      }).pipe(share());
      await Promise.all(Array.from({ length: k }, (_, j) => countEvents(source, events, j === 0 ? probe : NO_PROBE)));
      await closed;
      return { ops: k * events };
    },
  };
}

/**
 * rxmongo: one `watch()`, K subscribers. The iteration ends when the stream
 * reports `closed` (cursor killed), as the raw ones end when `close()`
 * resolves.
 */
export function rxSubscribers(k: number): Variant<StreamState> {
  return {
    key: `rx:${k}`,
    label: k === 1 ? 'rxmongo watch()' : `rxmongo watch(), ${k} subscribers`,
    memory: true,
    async prepare(state) {
      state.rxCommands.reset();
    },
    async run(state, probe): Promise<Iteration> {
      const { start, events } = state.history;
      const stream = state.rx.watch([], { startAtOperationTime: start });
      const closed = whenClosed(stream);
      await Promise.all(Array.from({ length: k }, (_, j) => countEvents(stream, events, j === 0 ? probe : NO_PROBE)));
      await closed;
      return { ops: k * events, counters: { serverCursors: state.rxCommands.changeStreams } };
    },
  };
}

/** Resolves when the stream's subscription has released its cursor (and saved its last checkpoint); rejects if it failed. */
export function whenClosed(stream: RxChangeStream): Promise<void> {
  return firstValueFrom(stream.status$.pipe(filter((status) => status.type === 'closed'))).then((status) => {
    if (status.type !== 'closed') return;
    const failure = status.error ?? status.checkpointError;
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(String(failure));
  });
}

/**
 * One subscriber that counts `events` events, then unsubscribes. Samples
 * memory (when the probe is live) at its first event, when every queue is
 * at its fullest, and half way.
 */
export function countEvents(source: Observable<unknown>, events: number, probe: Probe): Promise<void> {
  return new Promise((resolve, reject) => {
    const half = Math.ceil(events / 2);
    let seen = 0;
    let done = false;
    let subscription: Subscription | undefined;
    subscription = source.subscribe({
      next: () => {
        seen += 1;
        if (probe.live && (seen === 1 || seen === half)) probe.sample(seen);
        if (seen === events) {
          done = true;
          subscription?.unsubscribe();
          resolve();
        }
      },
      error: reject,
      complete: () => (seen === events ? resolve() : reject(new Error(`the stream completed after ${seen} of ${events} events`))),
    });
    if (done) subscription.unsubscribe();
  });
}

/** Throws unless every reader got every event: a short drain must not pass as a fast one. */
function expectAll(counts: number[], events: number): void {
  const short = counts.filter((c) => c !== events);
  if (short.length > 0) throw new Error(`${short.length} of ${counts.length} readers got ${short[0]} events, expected ${events}`);
}

/** The fan-out target: at most 1.5 × the time of one raw stream with a loop over K callbacks. */
export const FAN_OUT_TARGET: Target = {
  text: '≤ 1.5 × raw loop time',
  met: (row) => (Number.isFinite(row.ratio.median) ? row.ratio.median >= 1 / 1.5 : undefined),
};

/** The server cursors rxmongo opened per iteration (1 is the point of a shared stream). */
export function serverCursors(result: WorkloadResult, key: string): number | undefined {
  return result.variants[key]?.counters.serverCursors;
}
