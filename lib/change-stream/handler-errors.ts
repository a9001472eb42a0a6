import type { ClientSession, Collection, Document } from 'mongodb';
import { backoffDelay, type RetryOptions } from './backoff';
import { deadLetterCollection, writeDeadLetter } from './dead-letters';
import type { ChangeStreamStatus } from './status';
import { duration, finite, integer, knownKeys, object, oneOf } from './validate';
import type { Waits } from './waits';

export type { DeadLetterTarget } from './dead-letters';

/**
 * What `consume()` does when a handler throws, errors or rejects:
 *
 * - `'stop'` (default): the subscription ends with the position of the last
 *   completed change saved, and errors with the handler's error.
 * - `'retry'`: runs the handler again for the same change after a backoff,
 *   up to 3 attempts in all (see {@link HandlerRetryOptions}), then stops.
 * - `'park'`: writes the change and the error to `deadLetters` and goes on
 *   with the next change; the parked change counts as handled (for the
 *   checkpoint) only once its dead letter is written. A letter that cannot
 *   be written (a change over 16 MB) ends the subscription with that error.
 * - `{ retry, then }`: retries with these limits, then stops (`then:
 *   'stop'`, the default) or parks (`then: 'park'`).
 *
 * Parked changes can be fed back through a handler with {@link replay}.
 */
export type HandlerErrorPolicy = 'stop' | 'retry' | 'park' | { retry?: HandlerRetryOptions; then?: 'stop' | 'park' };

/** How a failed handler is retried for the same change (`onHandlerError`). */
export interface HandlerRetryOptions {
  /** How many times the handler runs for one change, the first included. Default 3. */
  maxAttempts?: number;
  /** Delay before the second attempt, in ms. Default 100. */
  initialDelayMS?: number;
  /** Upper bound of any delay, in ms. Default 10 000. */
  maxDelayMS?: number;
  /** Growth of the delay per attempt (≥ 1). Default 2. */
  factor?: number;
  /** Fraction (0 ≤ jitter < 1) by which each delay is randomly shortened. Default 0.5. */
  jitter?: number;
}

/** `onHandlerError` validated, with defaults. @internal */
export interface ResolvedHandlerErrors {
  /** `maxAttempts` counts every attempt, the first included. */
  retry: RetryOptions;
  then: 'stop' | 'park';
  deadLetters: Collection<Document> | undefined;
}

/** After a failed attempt: run the handler again once the delay has passed, park the change, or stop. @internal */
export type HandlerErrorStep = { retryInMS: number } | 'park' | 'stop';

const RETRY_DEFAULTS: Readonly<RetryOptions> = Object.freeze({ maxAttempts: 3, initialDelayMS: 100, maxDelayMS: 10_000, factor: 2, jitter: 0.5 });

/**
 * Validates `onHandlerError` and `deadLetters` (`TypeError` for a wrong
 * type, a `'park'` without `deadLetters` or `deadLetters` without `'park'`;
 * `RangeError` for a number out of range). `undefined` for `'stop'`.
 *
 * @internal
 */
export function resolveHandlerErrors(policy: unknown, deadLetters: unknown): ResolvedHandlerErrors | undefined {
  let retry: Partial<RetryOptions> | undefined;
  let then: 'stop' | 'park';
  if (policy === undefined || typeof policy === 'string') {
    const named = oneOf('onHandlerError', policy, ['stop', 'retry', 'park'] as const, 'stop', ' or { retry, then }');
    retry = named === 'retry' ? {} : { maxAttempts: 1 };
    then = named === 'park' ? 'park' : 'stop';
    if (named === 'stop') return deadLetters === undefined ? undefined : unusedDeadLetters();
  } else {
    const given = object('onHandlerError', policy) as Record<string, unknown>;
    knownKeys('onHandlerError', given, ['retry', 'then']);
    retry = (object('onHandlerError.retry', given.retry) ?? { maxAttempts: 1 }) as Partial<RetryOptions>;
    knownKeys('onHandlerError.retry', retry, ['maxAttempts', 'initialDelayMS', 'maxDelayMS', 'factor', 'jitter']);
    then = oneOf('onHandlerError.then', given.then, ['stop', 'park'] as const, 'stop');
  }
  const resolved: RetryOptions = {
    maxAttempts: integer('onHandlerError.retry.maxAttempts', retry.maxAttempts, RETRY_DEFAULTS.maxAttempts, { infinity: true }),
    initialDelayMS: duration('onHandlerError.retry.initialDelayMS', retry.initialDelayMS, RETRY_DEFAULTS.initialDelayMS, { min: 1 }),
    maxDelayMS: duration('onHandlerError.retry.maxDelayMS', retry.maxDelayMS, RETRY_DEFAULTS.maxDelayMS, { min: 1 }),
    factor: finite('onHandlerError.retry.factor', retry.factor, RETRY_DEFAULTS.factor, 1),
    jitter: finite('onHandlerError.retry.jitter', retry.jitter, RETRY_DEFAULTS.jitter, 0, 1),
  };
  if (resolved.maxDelayMS < resolved.initialDelayMS) {
    throw new RangeError(`onHandlerError.retry.maxDelayMS (${resolved.maxDelayMS}) must be at least initialDelayMS (${resolved.initialDelayMS})`);
  }
  if (then === 'stop' && deadLetters !== undefined) return unusedDeadLetters();
  const collection = then === 'park' ? deadLetterCollection(deadLetters) : undefined;
  return { retry: resolved, then, deadLetters: collection };
}

/**
 * What follows attempt number `attempt` (1 for the first) of a change's
 * handler that failed: another attempt after a backoff while attempts are
 * left, else the policy's last word.
 *
 * @internal
 */
export function nextStep(policy: ResolvedHandlerErrors | undefined, attempt: number): HandlerErrorStep {
  if (policy === undefined) return 'stop';
  if (attempt < policy.retry.maxAttempts) return { retryInMS: backoffDelay(attempt, policy.retry) };
  return policy.then;
}

function unusedDeadLetters(): never {
  throw new TypeError("consume() option deadLetters is used only with onHandlerError 'park' (or { then: 'park' })");
}

/** What a {@link HandlerRecovery} needs of its subscription. @internal */
export interface RecoveryContext {
  policy: ResolvedHandlerErrors | undefined;
  /** The subscription's waits: a backoff ends early when it closes. */
  waits: Waits;
  report(status: ChangeStreamStatus): void;
  /** The checkpoint key, kept on dead letters. */
  key: string | undefined;
}

/**
 * Carries out `onHandlerError` for one `consume()` subscription: after a
 * failed attempt, waits out the backoff before the next one, or writes the
 * dead letter, reporting each as `handlerError`.
 *
 * @internal
 */
export class HandlerRecovery {
  constructor(private readonly context: RecoveryContext) {}

  /** Whether any handler error is survived (the policy is not 'stop'). */
  get active(): boolean {
    return this.context.policy !== undefined;
  }

  /**
   * After attempt `attempt` for a change failed with `error`: `'stop'`
   * (the subscription ends with it), or what to do once the returned
   * promise resolves — `'retry'` the handler, or `'park'` the change.
   */
  decide(error: unknown, attempt: number): 'stop' | Promise<'retry' | 'park'> {
    const step = nextStep(this.context.policy, attempt);
    if (step === 'stop') return 'stop';
    if (step === 'park') {
      this.context.report({ type: 'handlerError', error, attempt, action: 'park' });
      return Promise.resolve('park');
    }
    this.context.report({ type: 'handlerError', error, attempt, action: 'retry', delayMS: step.retryInMS });
    return this.context.waits.sleep(step.retryInMS).then(() => 'retry');
  }

  /** Writes the dead letter of a parked change (in `session`'s transaction when given). */
  park(change: Document, error: unknown, attempts: number, session?: ClientSession): Promise<void> {
    const collection = this.context.policy?.deadLetters as Collection<Document>;
    return writeDeadLetter(collection, change, error, attempts, this.context.key, session);
  }
}
