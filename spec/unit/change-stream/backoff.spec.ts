import { backoffDelay, DEFAULT_RETRY, type RetryOptions } from '../../../lib/change-stream/backoff';

const retry: RetryOptions = { initialDelayMS: 100, maxDelayMS: 2_000, factor: 2, jitter: 0.5, maxAttempts: Infinity };

describe('backoffDelay', () => {
  it('grows by the factor per attempt and stops at maxDelayMS (no jitter drawn)', () => {
    const none = (): number => 0;
    expect([1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, retry, none))).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it('shortens each delay by at most the jitter fraction', () => {
    expect(backoffDelay(3, retry, () => 1)).toBe(200);
    expect(backoffDelay(3, retry, () => 0.5)).toBe(300);
  });

  it('keeps every delay within [(1 - jitter) · initial, max] for any draw', () => {
    for (let attempt = 1; attempt <= 40; attempt += 1) {
      const d = backoffDelay(attempt, retry);
      expect(d).toBeGreaterThanOrEqual(retry.initialDelayMS * (1 - retry.jitter));
      expect(d).toBeLessThanOrEqual(retry.maxDelayMS);
    }
  });

  it('has defaults that never produce a zero delay', () => {
    expect(DEFAULT_RETRY.jitter).toBeLessThan(1);
    expect(backoffDelay(1, DEFAULT_RETRY, () => 0.999999)).toBeGreaterThan(0);
  });
});
