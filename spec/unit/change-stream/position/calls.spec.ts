import { MongoNetworkError, MongoServerError } from 'mongodb';
import { asyncScheduler } from 'rxjs';
import { bounded, persist, Stopped, type CallContext } from '../../../../lib/change-stream/position/calls';
import type { ChangeStreamStatus } from '../../../../lib/change-stream/status';
import { Waits } from '../../../../lib/change-stream/waits';
import { CheckpointLeaseLostError, CheckpointTimeoutError } from '../../../../lib/errors';

function context(maxAttempts = Infinity): CallContext & { reports: ChangeStreamStatus[] } {
  const reports: ChangeStreamStatus[] = [];
  return {
    key: 'k',
    timeoutMS: 50,
    retry: { initialDelayMS: 5, maxDelayMS: 20, factor: 2, jitter: 0, maxAttempts },
    waits: new Waits(asyncScheduler),
    report: (s) => reports.push(s),
    reports,
  };
}

describe('bounded store calls', () => {
  it('reject with CheckpointTimeoutError when the call does not settle in time, naming it', async () => {
    const error = await bounded('load', context(), () => new Promise(() => {})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointTimeoutError);
    expect(error).toMatchObject({ operation: 'load', key: 'k', timeoutMS: 50 });
  });

  it('pass results and errors through untouched', async () => {
    await expect(bounded('save', context(), async () => 7)).resolves.toBe(7);
    const boom = new Error('boom');
    await expect(bounded('save', context(), () => Promise.reject(boom))).rejects.toBe(boom);
    await expect(bounded('save', context(), () => { throw boom; })).rejects.toBe(boom);
  });
});

describe('persistent store calls', () => {
  it('retry transient failures (network, timeout, transient: true) with backoff, reporting each', async () => {
    const c = context();
    const failures: unknown[] = [new MongoNetworkError('down'), Object.assign(new Error('redis busy'), { transient: true })];
    let calls = 0;
    const result = await persist('save', c, async () => {
      calls += 1;
      if (calls === 2) return new Promise(() => {}); // times out
      if (failures.length > 0 && calls !== 2) throw failures.shift();
      return 'saved';
    });
    expect(result).toBe('saved');
    expect(calls).toBe(4);
    expect(c.reports.map((r) => (r as { attempt: number; delayMS: number }).delayMS)).toEqual([5, 10, 20]);
    expect((c.reports[1] as { error: unknown }).error).toBeInstanceOf(CheckpointTimeoutError);
  });

  it('do not retry what cannot succeed: a lost lease, a server error that is not transient, a bug', async () => {
    for (const fatal of [
      new CheckpointLeaseLostError('k', 1, 'taken over'),
      new MongoServerError({ message: 'not authorized', code: 13 }),
      new TypeError('bad'),
    ]) {
      const c = context();
      let calls = 0;
      await expect(
        persist('save', c, async () => {
          calls += 1;
          throw fatal;
        }),
      ).rejects.toBe(fatal);
      expect(calls).toBe(1);
      expect(c.reports).toEqual([]);
    }
  });

  it('give up after retry.maxAttempts retries with the last error', async () => {
    const c = context(2);
    let calls = 0;
    const last = new MongoNetworkError('still down');
    await expect(
      persist('acquire', c, async () => {
        calls += 1;
        throw calls === 3 ? last : new MongoNetworkError('down');
      }),
    ).rejects.toBe(last);
    expect(calls).toBe(3);
  });

  it('stop at once when the subscription closes during a backoff wait', async () => {
    const c = { ...context(), retry: { initialDelayMS: 60_000, maxDelayMS: 60_000, factor: 1, jitter: 0, maxAttempts: Infinity } };
    const pending = persist('load', c, () => Promise.reject(new MongoNetworkError('down')));
    await new Promise((resolve) => setTimeout(resolve, 10));
    c.waits.stop();
    await expect(pending).rejects.toBeInstanceOf(Stopped);
  });
});
