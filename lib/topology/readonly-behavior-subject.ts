import { defer, observeOn, type Observable, type SchedulerLike } from 'rxjs';

/**
 * What callers get of a `BehaviorSubject`: subscribe to it (the current value
 * first, then every later one) and read `value`, but never `next`, `error`
 * or `complete` it.
 *
 * @example
 * client.primary$.pipe(distinctUntilChanged()).subscribe((p) => render(p));
 * const now = client.primary$.value;
 */
export interface ReadonlyBehaviorSubject<T> extends Observable<T> {
  /** The latest value, as `BehaviorSubject.value`. */
  readonly value: T;
}

/**
 * A read-only view of `source`, which must replay its current value to each
 * subscriber (a `BehaviorSubject`, or a projection of one). `onSubscribe`
 * runs at every subscription (before the current value is delivered); `read`
 * supplies `value`.
 */
export function readonlyBehaviorSubject<T>(
  source: Observable<T>,
  read: () => T,
  onSubscribe: () => void,
  scheduler?: SchedulerLike,
): ReadonlyBehaviorSubject<T> {
  const subscribed = defer(() => {
    onSubscribe();
    return source;
  });
  const delivered = scheduler ? subscribed.pipe(observeOn(scheduler)) : subscribed;
  return Object.defineProperty(delivered, 'value', { get: read, enumerable: true }) as ReadonlyBehaviorSubject<T>;
}
