import type { TransactionOptions } from 'mongodb';
import { resolveHandlerErrors, type DeadLetterTarget, type HandlerErrorPolicy, type ResolvedHandlerErrors } from './handler-errors';
import { describe } from '../driver/names';
import { integer, knownKeys, object } from './validate';

/** Options of `consume()`. Unknown keys are a `TypeError`. */
export interface ConsumeOptions {
  /** Most events held in memory (read ahead plus in the handler). Default: the stream's `highWaterMark`. */
  highWaterMark?: number;
  /**
   * Exactly-once for MongoDB projections: `true` (or the transaction's
   * options: read and write concern, `maxCommitTimeMS`) runs the handlers
   * of up to `checkpoint.every.events` changes and the checkpoint save in
   * one transaction, the handler getting `{ session }` as its second
   * argument; see `RxChangeStream.consume`. Needs a `checkpoint` with a
   * `CollectionCheckpointStore` on the stream's own client. Default `false`.
   */
  transactional?: boolean | TransactionOptions;
  /** What a handler error does: stop (default), retry with backoff, or park the change. See {@link HandlerErrorPolicy}. */
  onHandlerError?: HandlerErrorPolicy;
  /** Where `onHandlerError: 'park'` writes parked changes: a driver `Collection` or an `RxCollection`. */
  deadLetters?: DeadLetterTarget;
}

/** `consume()`'s options, validated, with defaults. @internal */
export interface ResolvedConsumeOptions {
  highWaterMark: number;
  /** The transaction options when transactional. */
  transactional: TransactionOptions | undefined;
  /** `undefined` for 'stop'. */
  onHandlerError: ResolvedHandlerErrors | undefined;
}

/** Validates `consume()`'s options; `fallback` is the stream's highWaterMark. @internal */
export function resolveConsumeOptions(options: ConsumeOptions | undefined, fallback: number): ResolvedConsumeOptions {
  const given = object('consume() options', options);
  if (given !== undefined) knownKeys('consume() options', given, ['highWaterMark', 'transactional', 'onHandlerError', 'deadLetters']);
  const transactional = given?.transactional;
  if (transactional !== undefined && typeof transactional !== 'boolean' && (transactional === null || typeof transactional !== 'object' || Array.isArray(transactional))) {
    throw new TypeError(`consume() option transactional must be true, false or the transaction's options, got ${describe(transactional)}`);
  }
  return {
    highWaterMark: integer('highWaterMark', given?.highWaterMark, fallback),
    transactional: transactional === true ? {} : transactional === false || transactional === undefined ? undefined : (transactional as TransactionOptions),
    onHandlerError: resolveHandlerErrors(given?.onHandlerError, given?.deadLetters),
  };
}

/**
 * The driver batch size of a paced `consume()` cursor: the user's
 * `batchSize`, else half the `highWaterMark` (so one batch can be read
 * while the other half is handled), never more than the mark.
 *
 * @internal
 */
export function pacedBatchSize(requested: number | undefined, highWaterMark: number): number {
  return Math.min(highWaterMark, requested !== undefined && requested > 0 ? requested : Math.max(1, Math.floor(highWaterMark / 2)));
}
