import { Observable, observeOn, type MonoTypeOperatorFunction } from 'rxjs';
import type { ClientContext } from './context';
import { CallSignal } from './signals';

/** Options of {@link fromCall}. */
export interface FromCallOptions {
  /**
   * Hand `run` an `AbortSignal` aborted when the subscriber leaves before
   * the result (the driver call takes one), unless the client's
   * `onUnsubscribe` is `'ignore'`.
   */
  abortable?: boolean;
}

/**
 * Bridge: one driver call → a cold, single-value Observable.
 *
 * Each subscriber runs `run` afresh. With `abortable`, `run` gets a signal
 * to hand to the driver, aborted on unsubscribe only while the result is
 * still outstanding (as RxJS's `fromFetch` does), so teardown after
 * delivery cancels nothing. Calls the driver cannot cancel just have their
 * result ignored.
 *
 * Signals come from a small pool rather than a new `AbortController` per
 * call: one goes back once its call has settled unaborted with no listener
 * left on it, so a new one is made only after a subscriber left early (or
 * while more calls are in flight than ever before). They are
 * {@link CallSignal}s, whose listeners cost the driver next to nothing.
 */
export function fromCall<R>(
  context: ClientContext,
  run: (signal: AbortSignal | undefined) => Promise<R>,
  { abortable = false }: FromCallOptions = {},
): Observable<R> {
  const source = new Observable<R>((subscriber) => {
    let pending: Promise<R>;
    const controller = abortable && context.abortsCalls ? takeSignal() : undefined;
    try {
      context.assertOpen();
      pending = run(controller?.signal);
    } catch (err) {
      if (controller) giveBack(controller);
      subscriber.error(err);
      return;
    }
    let outstanding = true;
    pending.then(
      (value) => {
        outstanding = false;
        if (controller) giveBack(controller);
        subscriber.next(value);
        subscriber.complete();
      },
      (err: unknown) => {
        outstanding = false;
        if (controller) giveBack(controller);
        subscriber.error(err);
      },
    );
    return () => {
      if (outstanding) controller?.abort();
    };
  });
  return source.pipe(deliverOn(context));
}

/** Signals never aborted, with no listener left. */
const idleSignals: CallSignal[] = [];
/** Enough for the calls one process keeps in flight; more are made and dropped as needed. */
const MAX_IDLE_SIGNALS = 64;

function takeSignal(): CallSignal {
  return idleSignals.pop() ?? new CallSignal();
}

/**
 * Reuses a signal only when nothing can tell: never aborted, and no
 * listener left behind by the driver (it removes its own once the call
 * settles; one left would hear a later call's abort).
 */
function giveBack(signal: CallSignal): void {
  if (idleSignals.length < MAX_IDLE_SIGNALS && signal.reusable) idleSignals.push(signal);
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
export function deliverOn<T>(context: Pick<ClientContext, 'scheduler'>): MonoTypeOperatorFunction<T> {
  const { scheduler } = context;
  return scheduler ? observeOn(scheduler) : identity;
}

function identity<T>(source: Observable<T>): Observable<T> {
  return source;
}
