/**
 * The order-events model: an append-only log of events per account, and a
 * balances projection built from it. Applying an event is one atomic
 * single-document update guarded by the account's version, so applying the
 * same event twice changes nothing: at-least-once delivery plus this
 * idempotent apply gives exactly-once effect.
 */
import { MongoServerError } from 'mongodb';
import { catchError, map, mergeMap, of, throwError, type Observable } from 'rxjs';
import type { RxCollection } from '../../lib';

export type OrderEventType = 'OrderPlaced' | 'PaymentReceived' | 'OrderRefunded';

/** One event of the log (`orderEvents`); `seq` counts 1, 2, 3, … per account. */
export interface OrderEvent {
  _id: string;
  account: string;
  seq: number;
  type: OrderEventType;
  /** Signed effect on the balance, in cents (integers, so sums are exact). */
  amountCents: number;
  at: Date;
}

/** One account of the projection (`balances`). */
export interface Balance {
  _id: string;
  balanceCents: number;
  /** `seq` of the last event applied. */
  version: number;
  /** Events applied (equals `version` when none was skipped). */
  applied: number;
}

/** What applying one event did. */
export type Outcome = 'applied' | 'duplicate';

/** An event arrived before its predecessor: something was lost. Never expected. */
class SequenceGapError extends Error {
  override readonly name = 'SequenceGapError';
}

const DUPLICATE_KEY = 11000;

/**
 * The projector saves its checkpoint every this many handled events (or
 * every 250 ms). rxmongo holds the next event back while this many are
 * unsaved, so a crash repeats at most this many, plus the one in flight.
 */
export const CHECKPOINT_EVERY = 25;

/**
 * Applies `event` to its account if it is the next one (`version` =
 * `seq - 1`); an event at or below the version was applied before and is
 * absorbed as a duplicate.
 */
export function applyEvent(balances: RxCollection<Balance>, event: OrderEvent): Observable<Outcome> {
  const { account, seq, amountCents } = event;
  return balances
    .updateOne(
      { _id: account, version: seq - 1 },
      { $inc: { balanceCents: amountCents, applied: 1 }, $set: { version: seq } },
      // The first event creates the account; a repeat of it hits the existing _id.
      { upsert: seq === 1 },
    )
    .pipe(
      map((result) => result.matchedCount + result.upsertedCount === 1),
      catchError((error: unknown) =>
        error instanceof MongoServerError && error.code === DUPLICATE_KEY ? of(false) : throwError(() => error),
      ),
      mergeMap((applied) =>
        applied
          ? of<Outcome>('applied')
          : balances.findOne({ _id: account }).pipe(
              map((current): Outcome => {
                if (current !== null && current.version >= seq) return 'duplicate';
                throw new SequenceGapError(`${event._id} arrived but ${account} is at version ${current?.version ?? 0}`);
              }),
            ),
      ),
    );
}

/** Balances recomputed from scratch: the whole log, summed per account. */
export interface Recomputed {
  _id: string;
  balanceCents: number;
  events: number;
  lastSeq: number;
}

/** Emits one {@link Recomputed} per account, by account, straight from the log. */
export function recompute(events: RxCollection<OrderEvent>): Observable<Recomputed> {
  return events.aggregate<Recomputed>([
    { $group: { _id: '$account', balanceCents: { $sum: '$amountCents' }, events: { $sum: 1 }, lastSeq: { $max: '$seq' } } },
    { $sort: { _id: 1 } },
  ]);
}
