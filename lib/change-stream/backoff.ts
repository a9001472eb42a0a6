/**
 * How the stream waits between restarts after errors the driver could not
 * resume from itself.
 *
 * Driver counterpart: none; the driver resumes once per resumable error and
 * then surfaces the error.
 */
export interface RetryOptions {
  /** Delay before the first restart, in ms. Default 100. */
  initialDelayMS: number;
  /** Upper bound of any delay, in ms. Default 30 000. */
  maxDelayMS: number;
  /** Growth of the delay per consecutive failure (≥ 1). Default 2. */
  factor: number;
  /**
   * Fraction (0 ≤ jitter < 1) by which each delay is randomly shortened, so
   * many streams restarting together spread out; below 1 so that a delay is
   * never zero. Default 0.5.
   */
  jitter: number;
  /** Consecutive failures after which the stream errors. Default `Infinity`. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = Object.freeze({
  initialDelayMS: 100,
  maxDelayMS: 30_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
});

/**
 * The delay before restart number `attempt` (1 for the first restart after a
 * success): `min(maxDelayMS, initialDelayMS · factor^(attempt-1))`, shortened
 * by up to `jitter` of itself. Always within
 * `[(1 - jitter) · initialDelayMS, maxDelayMS]`.
 */
export function backoffDelay(attempt: number, retry: RetryOptions, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(retry.maxDelayMS, retry.initialDelayMS * retry.factor ** exponent);
  return base * (1 - retry.jitter * random());
}
