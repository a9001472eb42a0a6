import type { Document, MongoClient, ReadPreferenceLike, Timestamp } from 'mongodb';
import { isTimestamp } from '../options';

/** One oplog entry's place in time. */
export interface OplogEntryTime {
  /** Its operation time: where a change stream resuming from it stands. */
  readonly ts: Timestamp;
  /** When the primary wrote it (its `wall`, ms). */
  readonly wall: Date;
}

/**
 * The history a member keeps: its oldest and newest oplog entries. A change
 * stream can resume from a position at or after `first`; before it, the
 * server answers ChangeStreamHistoryLost (286).
 */
export interface OplogWindow {
  /** The oldest entry kept; `undefined` when only `replSetGetStatus` could be read. */
  readonly first: OplogEntryTime | undefined;
  /** The newest entry. */
  readonly last: OplogEntryTime;
  /** How much time the window spans (`last.wall − first.wall`), when `first` is known. */
  readonly spanMS: number | undefined;
}

/** What a read of the window found: the window, and why it is incomplete or missing. */
export interface WindowRead {
  window: OplogWindow | undefined;
  unavailable?: string;
}

const TIMES = { projection: { _id: 0, ts: 1, wall: 1 } } as const;

/**
 * Reads the oplog window of the member `readPreference` selects, as
 * `rs.printReplicationInfo()` does: the first and last entries of
 * `local.oplog.rs` in natural (insertion) order — one index-free seek each.
 * Where the oplog cannot be read (no `read` role on `local`, as on Atlas'
 * shared tiers), `replSetGetStatus` still gives the newest entry; where
 * neither can, the read reports why. Never rejects.
 */
export async function readOplogWindow(driver: MongoClient, readPreference: ReadPreferenceLike | undefined): Promise<WindowRead> {
  const oplog = driver.db('local').collection('oplog.rs');
  const options = { ...TIMES, ...(readPreference !== undefined ? { readPreference } : {}) };
  let oplogError: unknown;
  try {
    const [first, last] = await Promise.all([
      oplog.findOne({}, { ...options, sort: { $natural: 1 } }),
      oplog.findOne({}, { ...options, sort: { $natural: -1 } }),
    ]);
    const firstTime = entryTime(first);
    const lastTime = entryTime(last);
    if (firstTime !== undefined && lastTime !== undefined) {
      return { window: { first: firstTime, last: lastTime, spanMS: lastTime.wall.getTime() - firstTime.wall.getTime() } };
    }
    oplogError = new Error('local.oplog.rs is empty or missing (the member is not in a replica set)');
  } catch (error) {
    oplogError = error;
  }
  try {
    const status = await driver.db('admin').command({ replSetGetStatus: 1 }, readPreference !== undefined ? { readPreference } : {});
    const ts: unknown = status.optimes?.appliedOpTime?.ts;
    const wall: unknown = status.optimes?.lastAppliedWallTime;
    if (isTimestamp(ts) && wall instanceof Date) {
      return {
        window: { first: undefined, last: { ts, wall }, spanMS: undefined },
        unavailable: `the oplog's first entry is unknown: ${messageOf(oplogError)}`,
      };
    }
    return { window: undefined, unavailable: `the oplog window is unknown: ${messageOf(oplogError)}; replSetGetStatus has no optimes` };
  } catch (statusError) {
    return { window: undefined, unavailable: `the oplog window is unknown: ${messageOf(oplogError)}; replSetGetStatus: ${messageOf(statusError)}` };
  }
}

/**
 * The wall time of the oplog entry at `ts`, or `undefined` when no entry
 * has exactly that time (a post-batch token between entries) or the oplog
 * cannot be read. A forward seek on `ts`, which mongod answers from the
 * oplog's own ordering (no index).
 */
export async function wallTimeAt(driver: MongoClient, readPreference: ReadPreferenceLike | undefined, ts: Timestamp): Promise<Date | undefined> {
  try {
    const entry = await driver
      .db('local')
      .collection('oplog.rs')
      .findOne({ ts: { $gte: ts } }, { ...TIMES, sort: { $natural: 1 }, ...(readPreference !== undefined ? { readPreference } : {}) });
    const found = entryTime(entry);
    return found !== undefined && found.ts.equals(ts) ? found.wall : undefined;
  } catch {
    return undefined;
  }
}

function entryTime(entry: Document | null): OplogEntryTime | undefined {
  const ts: unknown = entry?.ts;
  const wall: unknown = entry?.wall;
  return isTimestamp(ts) && wall instanceof Date ? { ts, wall } : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
