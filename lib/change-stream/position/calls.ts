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
 */
export function bounded<T>(operation: StoreOperation, context: CallContext, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckpointTimeoutError(operation, context.key, context.timeoutMS)), context.timeoutMS);
  });
  return Promise.race([Promise.resolve().then(call), timeout]).finally(() => clearTimeout(timer));
}

/**
 * `call()`, bounded, retried with the stream's backoff while it fails
 * transiently (each failure reported as `checkpointError`), up to
 * `retry.maxAttempts` retries. Rejects with the last error, or `Stopped`
 * when the subscription closes meanwhile.
 */
export async function persist<T>(operation: StoreOperation, context: CallContext, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    if (context.waits.stopped) throw new Stopped();
    try {
      return await bounded(operation, context, call);
    } catch (error) {
      if (context.waits.stopped) throw new Stopped();
      if (!isTransientStoreError(error) || attempt > context.retry.maxAttempts) throw error;
      const delayMS = backoffDelay(attempt, context.retry);
      context.report({ type: 'checkpointError', key: context.key, operation, attempt, error, delayMS });
      await context.waits.sleep(delayMS);
    }
  }
}
