import { CheckpointTimeoutError } from '../../errors';
import { backoffDelay, type RetryOptions } from '../backoff';
import { isTransientStoreError } from '../classify';
import type { ChangeStreamStatus, StoreOperation } from '../status';
import type { Waits } from '../waits';

/** What every store call of one subscription shares. @internal */
export interface CallContext {
  key: string;
  timeoutMS: number;
  retry: RetryOptions;
  waits: Waits;
  report(status: ChangeStreamStatus): void;
}

/** Thrown out of a retry loop cut short by the subscription closing. @internal */
export class Stopped extends Error {
  constructor() {
    super('the subscription closed');
  }
}

/**
 * `call()` bounded by `timeoutMS`: rejects with `CheckpointTimeoutError`
 * when it does not settle in time. The timer never outlives the call.
 * `call()` starts at once and its outcome is passed on in one step (no
 * race): a consumer waiting for a save waits no longer than the store.
 */
export function bounded<T>(operation: StoreOperation, context: CallContext, call: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CheckpointTimeoutError(operation, context.key, context.timeoutMS)), context.timeoutMS);
    const settle = <V>(done: (value: V) => void) => (value: V): void => {
      clearTimeout(timer);
      done(value);
    };
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (error) {
      settle(reject)(error);
      return;
    }
    Promise.resolve(pending).then(settle(resolve), settle(reject));
  });
}

/**
 * `call()`, bounded, retried with the stream's backoff while it fails
 * transiently (each failure reported as `checkpointError`), up to
 * `retry.maxAttempts` retries. Rejects with the last error, or `Stopped`
 * when the subscription closes meanwhile.
 */
export function persist<T>(operation: StoreOperation, context: CallContext, call: () => Promise<T>, attempt = 1): Promise<T> {
  if (context.waits.stopped) return Promise.reject(new Stopped());
  // The first attempt's outcome passes straight through: no extra turns on the way to a waiting consumer.
  return bounded(operation, context, call).catch(async (error: unknown) => {
    if (context.waits.stopped) throw new Stopped();
    if (!isTransientStoreError(error) || attempt > context.retry.maxAttempts) throw error;
    const delayMS = backoffDelay(attempt, context.retry);
    context.report({ type: 'checkpointError', key: context.key, operation, attempt, error, delayMS });
    await context.waits.sleep(delayMS);
    return persist(operation, context, call, attempt + 1);
  });
}
