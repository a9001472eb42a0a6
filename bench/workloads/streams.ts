/**
 * Shared by the change-stream workloads: a collection whose change history
 * holds `events` inserts from a known operation time, so every run of either
 * side drains the same events from the same point, and a raw drain loop.
 */
import type { ChangeStream, Collection, Db, Document, Timestamp } from 'mongodb';
import { buildOnPair, closePair, type BenchContext, type ClientPair } from '../context';

export interface History {
  pair: ClientPair;
  dbName: string;
  db: Db;
  coll: Collection;
  /** Operation time of the first event; `startAtOperationTime` for every run. */
  start: Timestamp;
  /** Events in the history from `start` on. */
  events: number;
}

/**
 * Opens a client pair (with command monitoring, to count server cursors and
 * getMores) and writes `events` documents made by `make`: the first alone,
 * in a session whose operation time marks the start, the rest in bulk.
 */
export async function writeHistory(
  ctx: BenchContext,
  prefix: string,
  events: number,
  make: (i: number) => Document,
): Promise<History> {
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

export async function dropHistory(history: History): Promise<void> {
  try {
    await history.db.dropDatabase();
  } finally {
    await closePair(history.pair);
  }
}

/**
 * Reads `count` events from a driver change stream and closes it. Iterator
 * mode (`next()`): it reads a batch only when asked, as rxmongo's reader
 * does; the emitter mode keeps a getMore in flight past the last event.
 */
export async function drainRaw(stream: ChangeStream, count: number): Promise<number> {
  let got = 0;
  try {
    while (got < count) {
      await stream.next();
      got += 1;
    }
  } finally {
    await stream.close();
  }
  return got;
}

/** Throws unless every reader got every event: a short drain must not pass as a fast one. */
export function expectAll(counts: number[], events: number): void {
  const short = counts.filter((c) => c !== events);
  if (short.length > 0) throw new Error(`${short.length} of ${counts.length} readers got ${short[0]} events, expected ${events}`);
}
