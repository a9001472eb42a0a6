import type { ChangeStreamDocument, ChangeStreamOptions, Document } from 'mongodb';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { CheckpointStore } from '../checkpoint/store';
import { describe } from '../driver/names';
import { DEFAULT_RETRY, type RetryOptions } from './backoff';
import type { HistoryLostPolicy } from './reader';

/** Where and how often an `RxChangeStream` saves its position. */
export interface CheckpointOptions {
  /** Where the token is kept. */
  store: CheckpointStore;
  /** Names this consumer's position in the store. */
  key: string;
  /**
   * Save after this many handled events (default 100) or this many ms after
   * the position first moved (default 1000), whichever comes first; either
   * may be `Infinity`. Positions are always saved when the stream closes.
   */
  every?: { events?: number; ms?: number };
}

/**
 * Options of `watch()`: every option of the driver's `watch` (Motor's
 * `watch` in camelCase: `fullDocument`, `resumeAfter`, `maxAwaitTimeMS`,
 * `batchSize`, `collation`, `startAtOperationTime`, `session`, `startAfter`,
 * `comment`, `fullDocumentBeforeChange`, `showExpandedEvents`, …) plus
 * rxmongo's own below. `resumeAfter`, `startAfter` and
 * `startAtOperationTime` are exclusive; a stored checkpoint replaces them.
 */
export interface RxWatchOptions<TChange = ChangeStreamDocument> extends ChangeStreamOptions {
  /** Load the position on open (as `startAfter`) and save it as events are handled. */
  checkpoint?: CheckpointOptions;
  /** Keep the cursor open this many ms after the last subscriber left. Default 0. */
  linger?: number;
  /** Default read-ahead bound of `consume()`. Default 100. */
  highWaterMark?: number;
  /**
   * Most events one plain subscriber may have waiting; beyond it, that
   * subscriber alone errors with `SubscriberOverflowError`. Default 10 000.
   */
  bufferSize?: number;
  /** Backoff between restarts after errors the driver does not resume from. */
  retry?: Partial<RetryOptions>;
  /** What to do when the server's history after the position is gone (code 286). Default `'error'`. */
  onHistoryLost?: HistoryLostPolicy<TChange>;
  /**
   * After an invalidate event (delivered first): `'complete'` (default) ends
   * the stream; `'restart'` opens a new one with `startAfter` the invalidate.
   */
  onInvalidate?: 'complete' | 'restart';
  /** Where emissions, backoff and checkpoint timers are scheduled. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** Options of `consume()`. */
export interface ConsumeOptions {
  /** Most events held in memory (read ahead plus in the handler). Default: the stream's `highWaterMark`. */
  highWaterMark?: number;
}

const RX_KEYS = [
  'checkpoint',
  'linger',
  'highWaterMark',
  'bufferSize',
  'retry',
  'onHistoryLost',
  'onInvalidate',
  'scheduler',
] as const;

export const DEFAULTS = Object.freeze({
  linger: 0,
  highWaterMark: 100,
  bufferSize: 10_000,
  checkpointEvents: 100,
  checkpointMS: 1000,
});

export interface ResolvedOptions<TChange> {
  pipeline: Document[];
  driverOptions: ChangeStreamOptions;
  checkpoint: { store: CheckpointStore; key: string; events: number; ms: number } | undefined;
  linger: number;
  highWaterMark: number;
  bufferSize: number;
  retry: RetryOptions;
  onHistoryLost: HistoryLostPolicy<TChange>;
  onInvalidate: 'complete' | 'restart';
  scheduler: SchedulerLike;
}

/**
 * Validates `watch()` arguments and applies defaults. Throws `TypeError` for
 * a value of the wrong type or conflicting options, `RangeError` for a
 * number out of range.
 */
export function resolveWatchOptions<TChange>(pipeline: unknown, options: unknown): ResolvedOptions<TChange> {
  const stages = pipeline ?? [];
  if (!Array.isArray(stages) || stages.some((stage) => stage === null || typeof stage !== 'object' || Array.isArray(stage))) {
    throw new TypeError(`watch() pipeline must be an array of stage documents, got ${describe(pipeline)}`);
  }
  const given = options ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`watch() options must be an object, got ${describe(options)}`);
  }
  const all = given as RxWatchOptions<TChange>;
  const driverOptions: Record<string, unknown> = { ...all };
  for (const key of RX_KEYS) delete driverOptions[key];
  validateDriverOptions(driverOptions as ChangeStreamOptions);

  return {
    pipeline: stages as Document[],
    driverOptions: driverOptions as ChangeStreamOptions,
    checkpoint: resolveCheckpoint(all.checkpoint),
    linger: number('linger', all.linger, DEFAULTS.linger, { min: 0, finite: true }),
    highWaterMark: integer('highWaterMark', all.highWaterMark, DEFAULTS.highWaterMark),
    bufferSize: integer('bufferSize', all.bufferSize, DEFAULTS.bufferSize),
    retry: resolveRetry(all.retry),
    onHistoryLost: resolveHistoryLost(all.onHistoryLost),
    onInvalidate: oneOf('onInvalidate', all.onInvalidate, ['complete', 'restart'] as const, 'complete'),
    scheduler: resolveScheduler(all.scheduler),
  };
}

/** Validates `consume()`'s highWaterMark. */
export function resolveHighWaterMark(options: ConsumeOptions | undefined, fallback: number): number {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`consume() options must be an object, got ${describe(options)}`);
  }
  return integer('highWaterMark', options?.highWaterMark, fallback);
}

function validateDriverOptions(options: ChangeStreamOptions): void {
  const starts = (['resumeAfter', 'startAfter', 'startAtOperationTime'] as const).filter((k) => options[k] != null);
  if (starts.length > 1) {
    throw new TypeError(`watch() options ${starts.join(' and ')} are mutually exclusive`);
  }
  for (const key of ['fullDocument', 'fullDocumentBeforeChange'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'string') {
      throw new TypeError(`watch() option ${key} must be a string, got ${describe(value)}`);
    }
  }
  if (options.batchSize !== undefined) integer('batchSize', options.batchSize, 1, { min: 0 });
  if (options.maxAwaitTimeMS !== undefined) number('maxAwaitTimeMS', options.maxAwaitTimeMS, 0, { min: 0, finite: true });
  if (options.showExpandedEvents !== undefined && typeof options.showExpandedEvents !== 'boolean') {
    throw new TypeError(`watch() option showExpandedEvents must be a boolean, got ${describe(options.showExpandedEvents)}`);
  }
}

function resolveCheckpoint(checkpoint: CheckpointOptions | undefined): ResolvedOptions<unknown>['checkpoint'] {
  if (checkpoint === undefined) return undefined;
  if (checkpoint === null || typeof checkpoint !== 'object') {
    throw new TypeError(`watch() option checkpoint must be an object, got ${describe(checkpoint)}`);
  }
  const { store, key, every } = checkpoint;
  if (store === null || typeof store !== 'object' || typeof store.load !== 'function' || typeof store.save !== 'function') {
    throw new TypeError('checkpoint.store must be a CheckpointStore (an object with load(key) and save(key, token))');
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`checkpoint.key must be a non-empty string, got ${describe(key)}`);
  }
  if (every !== undefined && (every === null || typeof every !== 'object')) {
    throw new TypeError(`checkpoint.every must be an object, got ${describe(every)}`);
  }
  return {
    store,
    key,
    events: integer('checkpoint.every.events', every?.events, DEFAULTS.checkpointEvents, { infinite: true }),
    ms: number('checkpoint.every.ms', every?.ms, DEFAULTS.checkpointMS, { min: 0, exclusive: true }),
  };
}

function resolveRetry(retry: Partial<RetryOptions> | undefined): RetryOptions {
  if (retry === undefined) return { ...DEFAULT_RETRY };
  if (retry === null || typeof retry !== 'object') throw new TypeError(`watch() option retry must be an object, got ${describe(retry)}`);
  const resolved: RetryOptions = {
    initialDelayMS: number('retry.initialDelayMS', retry.initialDelayMS, DEFAULT_RETRY.initialDelayMS, { min: 0, exclusive: true, finite: true }),
    maxDelayMS: number('retry.maxDelayMS', retry.maxDelayMS, DEFAULT_RETRY.maxDelayMS, { min: 0, exclusive: true, finite: true }),
    factor: number('retry.factor', retry.factor, DEFAULT_RETRY.factor, { min: 1, finite: true }),
    jitter: number('retry.jitter', retry.jitter, DEFAULT_RETRY.jitter, { min: 0, finite: true }),
    maxAttempts: integer('retry.maxAttempts', retry.maxAttempts, DEFAULT_RETRY.maxAttempts, { min: 0, infinite: true }),
  };
  if (resolved.jitter >= 1) throw new RangeError(`retry.jitter must be below 1 (a delay is never zero), got ${resolved.jitter}`);
  if (resolved.maxDelayMS < resolved.initialDelayMS) {
    throw new RangeError(`retry.maxDelayMS (${resolved.maxDelayMS}) must be at least retry.initialDelayMS (${resolved.initialDelayMS})`);
  }
  return resolved;
}

function resolveHistoryLost<TChange>(policy: HistoryLostPolicy<TChange> | undefined): HistoryLostPolicy<TChange> {
  if (typeof policy === 'function') return policy;
  return oneOf('onHistoryLost', policy, ['error', 'restartFromNow'] as const, 'error');
}

function resolveScheduler(scheduler: SchedulerLike | undefined): SchedulerLike {
  if (scheduler === undefined) return asyncScheduler;
  if (scheduler === null || typeof scheduler.schedule !== 'function' || typeof scheduler.now !== 'function') {
    throw new TypeError(`watch() option scheduler must be an RxJS scheduler, got ${describe(scheduler)}`);
  }
  return scheduler;
}

function oneOf<const V extends string>(name: string, value: unknown, allowed: readonly V[], fallback: V): V {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as V;
  throw new TypeError(`watch() option ${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}${name === 'onHistoryLost' ? ' or a function' : ''}, got ${JSON.stringify(value) ?? describe(value)}`);
}

interface Bounds {
  min?: number;
  exclusive?: boolean;
  finite?: boolean;
  infinite?: boolean;
}

function number(name: string, value: unknown, fallback: number, bounds: Bounds): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  const min = bounds.min ?? -Infinity;
  if (value < min || (bounds.exclusive === true && value === min) || (bounds.finite === true && !Number.isFinite(value))) {
    throw new RangeError(`${name} must be ${bounds.exclusive === true ? 'above' : 'at least'} ${min}${bounds.finite === true ? ' and finite' : ''}, got ${value}`);
  }
  return value;
}

function integer(name: string, value: unknown, fallback: number, bounds: Bounds = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  const min = bounds.min ?? 1;
  if ((value === Infinity && bounds.infinite === true) || (Number.isInteger(value) && value >= min)) return value;
  throw new RangeError(`${name} must be an integer ≥ ${min}${bounds.infinite === true ? ' or Infinity' : ''}, got ${value}`);
}
