import { Observable, observeOn, type MonoTypeOperatorFunction } from 'rxjs';
import type { ClientContext } from './context';

/** Options of {@link fromCall}. */
export interface FromCallOptions {
  /** Hand `run` an `AbortSignal` aborted when the subscriber leaves before the result (the driver call takes one). */
  abortable?: boolean;
}

/**
 * Bridge: one driver call → a cold, single-value Observable.
 *
 * Each subscriber runs `run` afresh. With `abortable: true`, each subscriber gets
 * its own `AbortController` whose signal `run` hands to the driver; it is
 * aborted on unsubscribe only while the result is still outstanding (as
 * RxJS's `fromFetch` does), so teardown after delivery cancels nothing.
 * Calls the driver cannot cancel just have their result ignored.
 */
export function fromCall<R>(
  context: ClientContext,
  run: (signal: AbortSignal | undefined) => Promise<R>,
  { abortable = false }: FromCallOptions = {},
): Observable<R> {
  const source = new Observable<R>((subscriber) => {
    let pending: Promise<R>;
    const controller = abortable ? new AbortController() : undefined;
    try {
      context.assertOpen();
      pending = run(controller?.signal);
    } catch (err) {
      subscriber.error(err);
      return;
    }
    let outstanding = true;
    pending.then(
      (value) => {
        outstanding = false;
        subscriber.next(value);
        subscriber.complete();
      },
      (err: unknown) => {
        outstanding = false;
        subscriber.error(err);
      },
    );
    return () => {
      if (outstanding) controller?.abort();
    };
  });
  return source.pipe(deliverOn(context));
}

/**
 * Bridge: a synchronous driver step (nothing sent, e.g. `startSession`) →
 * a cold, single-value Observable, so it too runs per subscriber and honours
 * the closed state and scheduler.
 */
export function fromSync<R>(context: ClientContext, run: () => R): Observable<R> {
  const source = new Observable<R>((subscriber) => {
    let value: R;
    try {
      context.assertOpen();
      value = run();
    } catch (err) {
      subscriber.error(err);
      return;
    }
    subscriber.next(value);
    subscriber.complete();
  });
  return source.pipe(deliverOn(context));
}

/** `observeOn(scheduler)` when the client has one, else nothing. */
export function deliverOn<T>(context: ClientContext): MonoTypeOperatorFunction<T> {
  const { scheduler } = context;
  return scheduler ? observeOn(scheduler) : identity;
}

function identity<T>(source: Observable<T>): Observable<T> {
  return source;
}
