import { Observable, type Subscriber } from 'rxjs';

/**
 * Bridge: a push engine started per subscriber → a cold Observable.
 *
 * `start` runs on subscribe with the subscriber as the engine's sink and
 * returns the engine's stop function, which becomes the teardown. A throw
 * from `start` (e.g. a conflict detected at subscribe) reaches the error
 * channel. Used by `RxChangeStream.consume()`, whose engine pulls from its own
 * change-stream cursor.
 */
export function fromEngine<T>(start: (sink: Subscriber<T>) => () => void): Observable<T> {
  return new Observable<T>((subscriber) => start(subscriber));
}
