import type { ClientSession, TransactionOptions } from 'mongodb';
import { Observable, type Subscription } from 'rxjs';
import type { ClientContext } from './context';
import { deliverOn } from './from-call';

/** Rejection that makes the driver abort an attempt whose subscriber left. */
const UNSUBSCRIBED = new Error('rxmongo: transaction unsubscribed');

/**
 * Bridge: a transaction body → a cold Observable of the values the
 * committed attempt produced, emitted after the commit.
 *
 * Built on the driver's `ClientSession.withTransaction`, which owns the
 * retry rules (rerun on `TransientTransactionError`, retry the commit on
 * `UnknownTransactionCommitResult`, backoff, 120 s limit). Each attempt
 * subscribes to a fresh `body()` and buffers its values, so a retried
 * attempt never leaks values to the subscriber. Unsubscribing rejects the
 * running attempt with a non-driver error, which makes the driver abort the
 * transaction and stop retrying; a commit already in flight is left to finish.
 */
export function fromTransaction<T>(
  context: ClientContext,
  session: ClientSession,
  body: () => Observable<T>,
  options?: TransactionOptions,
): Observable<T> {
  const source = new Observable<T>((subscriber) => {
    let attempt: Subscription | undefined;
    let rejectAttempt: ((reason: unknown) => void) | undefined;

    const runAttempt = (): Promise<T[]> =>
      new Promise<T[]>((resolve, reject) => {
        if (subscriber.closed) {
          reject(UNSUBSCRIBED);
          return;
        }
        const values: T[] = [];
        rejectAttempt = reject;
        attempt = body().subscribe({
          next: (value) => values.push(value),
          error: reject,
          complete: () => resolve(values),
        });
      });

    try {
      context.assertOpen();
    } catch (err) {
      subscriber.error(err);
      return;
    }
    session.withTransaction(runAttempt, options).then(
      (values) => {
        for (const value of values) {
          if (subscriber.closed) return;
          subscriber.next(value);
        }
        subscriber.complete();
      },
      (err: unknown) => subscriber.error(err),
    );

    return () => {
      attempt?.unsubscribe();
      rejectAttempt?.(UNSUBSCRIBED);
    };
  });
  return source.pipe(deliverOn(context));
}
