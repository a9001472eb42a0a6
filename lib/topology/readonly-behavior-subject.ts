import { defer, observeOn, type BehaviorSubject, type Observable, type SchedulerLike } from 'rxjs';

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
 * A read-only view of `subject`. `onSubscribe` runs at every subscription
 * (before the current value is delivered); `read` supplies `value`, so the
 * owner can keep several subjects' values consistent while it emits.
 */
export function readonlyBehaviorSubject<T>(
  subject: BehaviorSubject<T>,
  read: () => T,
  onSubscribe: () => void,
  scheduler?: SchedulerLike,
): ReadonlyBehaviorSubject<T> {
  const source = defer(() => {
    onSubscribe();
    return subject;
  });
  const delivered = scheduler ? source.pipe(observeOn(scheduler)) : source;
  return Object.defineProperty(delivered, 'value', { get: read, enumerable: true }) as ReadonlyBehaviorSubject<T>;
}
