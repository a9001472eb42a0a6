import type { ChangeStreamDocument, ChangeStreamOptions, Document, ResumeToken, Timestamp } from 'mongodb';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { CheckpointStore } from '../checkpoint/store';
import { describe } from '../driver/names';
import { DEFAULT_RETRY, type RetryOptions } from './backoff';
import { resolveObserve, type HeadroomOptions, type ObserveOptions, type ResolvedObserve } from './observe/options';
import type { HistoryLostPolicy } from './reader';
// Consumer groups (./group): the `group` option.
import { resolveGroup, type GroupOptions, type ResolvedGroup } from './group/options';
import { boolean, duration, finite, integer, knownKeys, object, oneOf } from './validate';

/** Where and how often an `RxChangeStream` saves its position, and who may. */
export interface CheckpointOptions {
  /** Where the position and the lease are kept. */
  store: CheckpointStore;
  /** Names this consumer's position in the store (one active consumer per key). */
  key: string;
  /**
   * Save after this many handled events (default 100) or this many ms after
   * the position first moved (default 1000), whichever comes first; either
   * may be `Infinity`. Positions are always saved when the stream closes.
   */
  every?: { events?: number; ms?: number };
  /**
   * Where a consumer starts when the store holds no position for `key` (its
   * first run): `'now'` (default), an operation time (`Timestamp`), or a
   * resume token. The opening position is saved before the first change is
   * delivered, so a consumer killed at any moment after `opened` loses
   * nothing. Ignored once the store holds a position.
   */
  start?: 'now' | Timestamp | ResumeToken;
  /** Longest a store call (load, save, lease) may take, in ms; then it is retried. Default 10 000. */
  timeoutMS?: number;
  /** The lease on `key` that makes this the only consumer moving it. */
  lease?: LeaseOptions;
}

/** How a consumer holds its checkpoint key. */
export interface LeaseOptions {
  /**
   * How long the lease lasts without renewal, in ms (default 10 000). It is
   * renewed in the background every third of that; a consumer that dies is
   * replaced by a standby after at most this long.
   */
  ttlMS?: number;
  /**
   * While another consumer holds the key: `true` (default) waits as a
   * standby (status `standby`, then `acquired`); `false` errors with
   * `CheckpointInUseError`.
   */
  wait?: boolean;
}

/**
 * Options of `watch()`: every option of the driver's `watch` (Motor's
 * `watch` in camelCase: `fullDocument`, `resumeAfter`, `maxAwaitTimeMS`,
 * `batchSize`, `collation`, `startAtOperationTime`, `session`, `startAfter`,
 * `comment`, `fullDocumentBeforeChange`, `showExpandedEvents`, …) plus
 * rxmongo's own below. `batchSize` is how many events the shared cursor
 * reads ahead per round trip; by default 500 (at most `bufferSize` and
 * `checkpoint.every.events`) for plain subscribers, and half the
 * `highWaterMark` for `consume()`. `resumeAfter`, `startAfter` and
 * `startAtOperationTime` are exclusive; with a checkpoint they are its
 * `start` (used only while the store holds no position). Unknown keys are a
 * `TypeError`.
 */
export interface RxWatchOptions<TChange = ChangeStreamDocument> extends ChangeStreamOptions {
  /** Load the position on open and save it as events are handled. */
  checkpoint?: CheckpointOptions;
  /** Keep the cursor open this many ms after the last subscriber left. Default 0. */
  linger?: number;
  /** Default read-ahead bound of `consume()`. Default 100. */
  highWaterMark?: number;
  /**
   * Most events one plain subscriber may be behind the others (events read
   * that it has not been handed, because it is slow in `next`); beyond it,
   * that subscriber alone gets the events it had room for, then
   * `SubscriberOverflowError`. A bound per subscriber, not a read-ahead: the
   * events are kept once, whatever the number of subscribers. Default 10 000.
   */
  bufferSize?: number;
  /** Backoff between restarts after errors the driver does not resume from, and between store retries. */
  retry?: Partial<RetryOptions>;
  /**
   * What to do when the server's history after the position is gone
   * (`ChangeStreamHistoryLost` 286, or `CappedPositionLost` 136 for a cursor
   * that fell off the oplog). Default `'error'`.
   */
  onHistoryLost?: HistoryLostPolicy<TChange>;
  /**
   * After an invalidate event (delivered first): `'complete'` (default) ends
   * the stream; `'restart'` opens a new one with `startAfter` the invalidate.
   */
  onInvalidate?: 'complete' | 'restart';
  /**
   * Where emissions are delivered (each driver batch as one task on it) and
   * backoff, linger, checkpoint and lease timers run. Default: emissions at
   * once as each batch arrives, with no scheduler hop, and timers on
   * `asyncScheduler`. `watch()` of a client with a `scheduler` uses that one.
   */
  scheduler?: SchedulerLike;
  /**
   * Makes `consume()` one member of a consumer group sharing
   * `checkpoint.key`: the changes are split into partitions, each owned by
   * one member at a time (see `GroupOptions`). Needs `checkpoint` with a
   * store that lists leases.
   */
  group?: GroupOptions;
  /** How `lag$` and `metrics$` sample, the stream's name in metrics, and OpenTelemetry reporting. */
  observe?: ObserveOptions;
  /**
   * How `headroom$` samples and when `status$` warns (`headroomLow`). Given,
   * headroom is also watched while the stream runs, not only while
   * `headroom$` has subscribers.
   */
  headroom?: HeadroomOptions;
  /**
   * Adds `$changeStreamSplitLargeEvent` as the last pipeline stage (MongoDB
   * 7.0+, 6.0.9+), so an event over 16 MB reaches the client as fragments
   * instead of failing the stream, and puts the fragments back together:
   * subscribers and `consume()` get each event whole and once, with the
   * last fragment's `_id`. The position moves only past a whole event, so
   * a restart in the middle of one reads it again from its first fragment.
   * Default `false`.
   */
  splitLargeEvents?: boolean;
  /**
   * Collection streams only: first emit every document of the collection,
   * read at one cluster time, as `{ operationType: 'snapshot', fullDocument,
   * documentKey, ns, clusterTime }` events (passed through the pipeline like
   * changes), then the changes after that time — no gap, no duplicate.
   * With a checkpoint, the snapshot runs while the store holds no position
   * for the key (a restart during it reads it again); its time is stored
   * once every snapshot event is handled, and later runs resume from the
   * stored position. The whole snapshot must be read within the server's
   * snapshot history window (`minSnapshotHistoryWindowInSeconds`, 300 s by
   * default), else the stream errors with `SnapshotTooOld`. Cannot be
   * combined with a start option (`resumeAfter`, `startAfter`,
   * `startAtOperationTime`, `checkpoint.start`). Default `false`.
   */
  initialSnapshot?: boolean;
}

const RX_KEYS = [
  'checkpoint', 'linger', 'highWaterMark', 'bufferSize', 'retry', 'onHistoryLost', 'onInvalidate', 'scheduler',
  'group', 'observe', 'headroom', 'splitLargeEvents', 'initialSnapshot',
] as const;
/** The driver's change-stream options (ChangeStreamOptions and what it extends). */
const DRIVER_KEYS = [
  'fullDocument', 'fullDocumentBeforeChange', 'maxAwaitTimeMS', 'resumeAfter', 'startAfter', 'startAtOperationTime',
  'batchSize', 'showExpandedEvents', 'allowDiskUse', 'bypassDocumentValidation', 'cursor', 'maxTimeMS', 'collation',
  'hint', 'let', 'out', 'explain', 'readConcern', 'comment', 'dbName', 'authdb', 'session', 'willRetryWrite',
  'readPreference', 'timeoutMS', 'raw', 'checkKeys', 'serializeFunctions', 'ignoreUndefined', 'useBigInt64',
  'promoteLongs', 'promoteBuffers', 'promoteValues', 'fieldsAsRaw', 'bsonRegExp', 'enableUtf8Validation',
] as const;
const START_KEYS = ['resumeAfter', 'startAfter', 'startAtOperationTime'] as const;

export const DEFAULTS = Object.freeze({
  linger: 0,
  highWaterMark: 100,
  bufferSize: 10_000,
  /** Driver batch size of a shared stream when the user gives none. */
  batchSize: 500,
  checkpointEvents: 100,
  checkpointMS: 1000,
  timeoutMS: 10_000,
  ttlMS: 10_000,
});

/** Where a checkpointed stream starts on its first run. */
export type CheckpointStart = 'now' | { time: Timestamp } | { token: ResumeToken };

/** The checkpoint options, validated, with defaults. @internal */
export interface ResolvedCheckpoint {
  store: CheckpointStore;
  key: string;
  events: number;
  ms: number;
  start: CheckpointStart;
  timeoutMS: number;
  lease: { ttlMS: number; wait: boolean };
}

/** @internal */
export interface ResolvedOptions<TChange> {
  pipeline: Document[];
  driverOptions: ChangeStreamOptions;
  checkpoint: ResolvedCheckpoint | undefined;
  linger: number;
  highWaterMark: number;
  bufferSize: number;
  retry: RetryOptions;
  onHistoryLost: HistoryLostPolicy<TChange>;
  onInvalidate: 'complete' | 'restart';
  /** Where timers run: the user's scheduler, else `asyncScheduler`. */
  scheduler: SchedulerLike;
  group: ResolvedGroup | undefined;
  observe: ResolvedObserve;
  /** The pipeline ends with `$changeStreamSplitLargeEvent`; fragments are put back together. */
  splitLargeEvents: boolean;
  initialSnapshot: boolean;
  /** Where emissions are delivered: the user's scheduler, else none (synchronously as each batch arrives). */
  deliverOn: SchedulerLike | undefined;
}

/**
 * Validates `watch()` arguments and applies defaults. Throws `TypeError` for
 * a value of the wrong type, an unknown key or conflicting options,
 * `RangeError` for a number out of range.
 * @internal
 */
export function resolveWatchOptions<TChange>(pipeline: unknown, options: unknown): ResolvedOptions<TChange> {
  const stages = pipeline ?? [];
  if (!Array.isArray(stages) || stages.some((stage) => stage === null || typeof stage !== 'object' || Array.isArray(stage))) {
    throw new TypeError(`watch() pipeline must be an array of stage documents, got ${describe(pipeline)}`);
  }
  const all = (object('watch() options', options) ?? {}) as RxWatchOptions<TChange> & Record<string, unknown>;
  knownKeys('watch() options', all, [...RX_KEYS, ...DRIVER_KEYS]);
  const driverOptions: Record<string, unknown> = { ...all };
  for (const key of RX_KEYS) delete driverOptions[key];
  validateDriverOptions(driverOptions as ChangeStreamOptions);
  const checkpoint = resolveCheckpoint(all.checkpoint, driverOptions as ChangeStreamOptions);
  if (checkpoint !== undefined) for (const key of START_KEYS) delete driverOptions[key];
  const splitLargeEvents = boolean('splitLargeEvents', all.splitLargeEvents, false);
  const initialSnapshot = boolean('initialSnapshot', all.initialSnapshot, false);
  if (splitLargeEvents && (stages as Document[]).some((stage) => SPLIT_STAGE in stage)) {
    throw new TypeError(`watch() option splitLargeEvents adds the ${SPLIT_STAGE} stage itself; remove it from the pipeline`);
  }
  if (initialSnapshot) {
    const start = START_KEYS.find((k) => all[k] != null) ?? (all.checkpoint?.start !== undefined && all.checkpoint.start !== 'now' ? 'checkpoint.start' : undefined);
    if (start !== undefined) throw new TypeError(`watch() option initialSnapshot starts the stream at the snapshot's time; it cannot be combined with ${start}`);
  }
  const deliverOn = resolveScheduler(all.scheduler);
  return {
    splitLargeEvents,
    initialSnapshot,
    pipeline: splitLargeEvents ? [...(stages as Document[]), { [SPLIT_STAGE]: {} }] : (stages as Document[]),
    driverOptions: driverOptions as ChangeStreamOptions,
    checkpoint,
    linger: duration('linger', all.linger, DEFAULTS.linger),
    highWaterMark: integer('highWaterMark', all.highWaterMark, DEFAULTS.highWaterMark),
    bufferSize: integer('bufferSize', all.bufferSize, DEFAULTS.bufferSize),
    retry: resolveRetry(all.retry),
    onHistoryLost: resolveHistoryLost(all.onHistoryLost),
    onInvalidate: oneOf('onInvalidate', all.onInvalidate, ['complete', 'restart'] as const, 'complete'),
    scheduler: deliverOn ?? asyncScheduler,
    deliverOn,
    group: resolveGroup(all.group, all.checkpoint),
    observe: resolveObserve(all.observe, all.headroom),
  };
}

/** The stage `splitLargeEvents` appends. */
const SPLIT_STAGE = '$changeStreamSplitLargeEvent';

function validateDriverOptions(options: ChangeStreamOptions): void {
  const starts = START_KEYS.filter((k) => options[k] != null);
  if (starts.length > 1) throw new TypeError(`watch() options ${starts.join(' and ')} are mutually exclusive`);
  for (const key of ['fullDocument', 'fullDocumentBeforeChange'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'string') throw new TypeError(`watch() option ${key} must be a string, got ${describe(value)}`);
  }
  if (options.batchSize !== undefined) integer('batchSize', options.batchSize, 1, { min: 0 });
  for (const key of ['maxAwaitTimeMS', 'maxTimeMS', 'timeoutMS'] as const) duration(key, options[key], 0);
  boolean('showExpandedEvents', options.showExpandedEvents, false);
}

function resolveCheckpoint(value: unknown, driver: ChangeStreamOptions): ResolvedCheckpoint | undefined {
  const given = object('checkpoint', value);
  if (given === undefined) return undefined;
  knownKeys('checkpoint', given, ['store', 'key', 'every', 'start', 'timeoutMS', 'lease']);
  const store = given.store as Partial<CheckpointStore> | null | undefined;
  const missing = (['load', 'acquire', 'renew', 'save', 'release'] as const).filter((m) => typeof store?.[m] !== 'function');
  if (store === null || typeof store !== 'object' || missing.length > 0) {
    throw new TypeError(`checkpoint.store must be a CheckpointStore (load, acquire, renew, save, release)${store !== null && typeof store === 'object' ? `; it lacks ${missing.join(', ')}` : `, got ${describe(store)}`}`);
  }
  const key = given.key;
  if (typeof key !== 'string' || key.length === 0) throw new TypeError(`checkpoint.key must be a non-empty string, got ${describe(key)}`);
  const every = object('checkpoint.every', given.every) ?? {};
  knownKeys('checkpoint.every', every, ['events', 'ms']);
  const lease = object('checkpoint.lease', given.lease) ?? {};
  knownKeys('checkpoint.lease', lease, ['ttlMS', 'wait']);
  const ttlMS = duration('checkpoint.lease.ttlMS', lease.ttlMS, DEFAULTS.ttlMS, { min: 1 });
  if (!Number.isInteger(ttlMS)) throw new RangeError(`checkpoint.lease.ttlMS must be a whole number of ms, got ${ttlMS}`);
  return {
    store: store as CheckpointStore,
    key,
    events: integer('checkpoint.every.events', every.events, DEFAULTS.checkpointEvents, { infinity: true }),
    ms: duration('checkpoint.every.ms', every.ms, DEFAULTS.checkpointMS, { min: 1, infinity: true }),
    start: resolveStart(given.start, driver),
    timeoutMS: duration('checkpoint.timeoutMS', given.timeoutMS, DEFAULTS.timeoutMS, { min: 1 }),
    lease: { ttlMS, wait: boolean('checkpoint.lease.wait', lease.wait, true) },
  };
}

function resolveStart(start: unknown, driver: ChangeStreamOptions): CheckpointStart {
  const fromDriver = START_KEYS.find((k) => driver[k] != null);
  if (start !== undefined && fromDriver !== undefined) {
    throw new TypeError(`checkpoint.start and the watch() option ${fromDriver} both say where to start; give one`);
  }
  if (fromDriver === 'startAtOperationTime') return { time: driver.startAtOperationTime as Timestamp };
  if (fromDriver !== undefined) return { token: driver[fromDriver] };
  if (start === undefined || start === 'now') return 'now';
  if (isTimestamp(start)) return { time: start };
  if (start !== null && typeof start === 'object' && !Array.isArray(start)) return { token: start };
  throw new TypeError(`checkpoint.start must be 'now', a Timestamp or a resume token, got ${typeof start === 'string' ? JSON.stringify(start) : describe(start)}`);
}

function resolveRetry(value: unknown): RetryOptions {
  const retry = object('retry', value);
  if (retry === undefined) return { ...DEFAULT_RETRY };
  knownKeys('retry', retry, ['initialDelayMS', 'maxDelayMS', 'factor', 'jitter', 'maxAttempts']);
  const resolved: RetryOptions = {
    initialDelayMS: duration('retry.initialDelayMS', retry.initialDelayMS, DEFAULT_RETRY.initialDelayMS, { min: 1 }),
    maxDelayMS: duration('retry.maxDelayMS', retry.maxDelayMS, DEFAULT_RETRY.maxDelayMS, { min: 1 }),
    factor: finite('retry.factor', retry.factor, DEFAULT_RETRY.factor, 1),
    jitter: finite('retry.jitter', retry.jitter, DEFAULT_RETRY.jitter, 0, 1),
    maxAttempts: integer('retry.maxAttempts', retry.maxAttempts, DEFAULT_RETRY.maxAttempts, { min: 0, infinity: true }),
  };
  if (resolved.maxDelayMS < resolved.initialDelayMS) {
    throw new RangeError(`retry.maxDelayMS (${resolved.maxDelayMS}) must be at least retry.initialDelayMS (${resolved.initialDelayMS})`);
  }
  return resolved;
}

function resolveHistoryLost<TChange>(policy: unknown): HistoryLostPolicy<TChange> {
  if (typeof policy === 'function') return policy as HistoryLostPolicy<TChange>;
  return oneOf('onHistoryLost', policy, ['error', 'restartFromNow'] as const, 'error', ' or a function');
}

function resolveScheduler(scheduler: unknown): SchedulerLike | undefined {
  if (scheduler === undefined) return undefined;
  const s = scheduler as Partial<SchedulerLike> | null;
  if (s === null || typeof s !== 'object' || typeof s.schedule !== 'function' || typeof s.now !== 'function') {
    throw new TypeError(`watch() option scheduler must be an RxJS scheduler, got ${describe(scheduler)}`);
  }
  return scheduler as SchedulerLike;
}

/** Whether `value` is a BSON Timestamp (an operation time). */
export function isTimestamp(value: unknown): value is Timestamp {
  return value !== null && typeof value === 'object' && (value as { _bsontype?: unknown })._bsontype === 'Timestamp';
}
