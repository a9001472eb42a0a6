import { Observable, type SchedulerLike } from 'rxjs';
import { deliverOn } from './from-call';

/**
 * The outcome of work that started when it was asked for (`client.connect()`,
 * `client.close()`), as something you can both `await` and use as an
 * Observable.
 *
 * Unlike the rest of rxmongo it is not cold: the work runs once, at the
 * call, whether or not anyone listens. Awaiting it, or subscribing any
 * number of times, observes that one outcome: each subscriber gets the value
 * and completes (or gets the error); nothing runs again. An outcome nobody
 * observes is dropped rather than reported as an unhandled rejection.
 *
 * @example
 * ```ts
 * await client.close();                                   // as a promise
 * done$.pipe(concatWith(client.close())).subscribe();     // closes at this line, not at the end of done$
 * done$.pipe(concatWith(defer(() => client.close())));    // closes after done$ completes
 * ```
 */
export class Awaitable<T> extends Observable<T> implements PromiseLike<T> {
  readonly #outcome: Promise<T>;

  /** @internal */
  constructor(outcome: Promise<T>, scheduler?: SchedulerLike) {
    const settled = new Observable<T>((subscriber) => {
      outcome.then(
        (value) => {
          subscriber.next(value);
          subscriber.complete();
        },
        (err: unknown) => subscriber.error(err),
      );
    }).pipe(deliverOn({ scheduler }));
    super((subscriber) => settled.subscribe(subscriber));
    outcome.catch(() => {
      // Observed by whoever awaits or subscribes; unobserved, it has nobody to go to.
    });
    this.#outcome = outcome;
  }

  /** Awaits the outcome, as `Promise.prototype.then` does. */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#outcome.then(onfulfilled, onrejected);
  }
}
