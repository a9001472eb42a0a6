import { firstValueFrom, lastValueFrom, VirtualTimeScheduler } from 'rxjs';
import { ClientClosedError } from '../../../lib/errors';
import { fromCall, fromSync } from '../../../lib/driver/from-call';
import { Deferred, fakeContext, settle } from './fakes';

describe('fromCall', () => {
  it('runs nothing before subscribe and runs again on each subscribe', async () => {
    const { context } = fakeContext();
    let runs = 0;
    const call$ = fromCall(context, async () => ++runs);
    expect(runs).toBe(0);
    await expect(firstValueFrom(call$)).resolves.toBe(1);
    await expect(firstValueFrom(call$)).resolves.toBe(2);
    expect(runs).toBe(2);
  });

  it('emits one value then completes', async () => {
    const { context } = fakeContext();
    const seen: string[] = [];
    await new Promise<void>((resolve) =>
      fromCall(context, async () => 'x').subscribe({
        next: (v) => seen.push(v),
        complete: () => resolve(),
      }),
    );
    expect(seen).toEqual(['x']);
  });

  it('aborts the signal on unsubscribe while the result is outstanding', async () => {
    const { context } = fakeContext();
    const pending = new Deferred<number>();
    let signal: AbortSignal | undefined;
    const subscription = fromCall(
      context,
      (s) => {
        signal = s;
        return pending.promise;
      },
      { abortable: true },
    ).subscribe();
    expect(signal?.aborted).toBe(false);
    subscription.unsubscribe();
    expect(signal?.aborted).toBe(true);
    pending.reject(signal?.reason);
    await settle(); // the rejection is handled: jest would report an unhandled one
  });

  it('does not abort once the result was delivered', async () => {
    const { context } = fakeContext();
    let signal: AbortSignal | undefined;
    await lastValueFrom(
      fromCall(
        context,
        async (s) => {
          signal = s;
          return 1;
        },
        { abortable: true },
      ),
    );
    expect(signal?.aborted).toBe(false);
  });

  it('gives no signal to calls the driver cannot cancel', async () => {
    const { context } = fakeContext();
    let given: AbortSignal | undefined | null = null;
    await lastValueFrom(
      fromCall(context, async (s) => {
        given = s;
      }),
    );
    expect(given).toBeUndefined();
  });

  it('sends rejections and synchronous throws to the error channel', async () => {
    const { context } = fakeContext();
    const boom = new Error('boom');
    await expect(firstValueFrom(fromCall(context, () => Promise.reject(boom)))).rejects.toBe(boom);
    await expect(
      firstValueFrom(
        fromCall(context, () => {
          throw boom;
        }),
      ),
    ).rejects.toBe(boom);
  });

  it('errors with ClientClosedError after close, without running the call', async () => {
    const { context } = fakeContext();
    await context.close();
    let runs = 0;
    await expect(firstValueFrom(fromCall(context, async () => ++runs))).rejects.toBeInstanceOf(ClientClosedError);
    expect(runs).toBe(0);
  });

  it('delivers on the client scheduler', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { context } = fakeContext(scheduler);
    const seen: number[] = [];
    fromCall(context, async () => 7).subscribe((v) => seen.push(v));
    await settle();
    expect(seen).toEqual([]);
    scheduler.flush();
    expect(seen).toEqual([7]);
  });
});

describe('fromSync', () => {
  it('runs per subscriber, not at the call', async () => {
    const { context } = fakeContext();
    let runs = 0;
    const step$ = fromSync(context, () => ++runs);
    expect(runs).toBe(0);
    await expect(firstValueFrom(step$)).resolves.toBe(1);
    await expect(firstValueFrom(step$)).resolves.toBe(2);
  });

  it('sends throws and the closed state to the error channel', async () => {
    const { context } = fakeContext();
    const boom = new TypeError('bad');
    await expect(
      firstValueFrom(
        fromSync(context, () => {
          throw boom;
        }),
      ),
    ).rejects.toBe(boom);
    await context.close();
    await expect(firstValueFrom(fromSync(context, () => 1))).rejects.toBeInstanceOf(ClientClosedError);
  });
});

describe('fromCall signals', () => {
  it('reuses the signal of a call that settled unaborted with no listener left', async () => {
    const { context } = fakeContext();
    const signals: (AbortSignal | undefined)[] = [];
    const call$ = fromCall(context, async (s) => signals.push(s), { abortable: true });
    await lastValueFrom(call$);
    await lastValueFrom(call$);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[1]).toBe(signals[0]);
  });

  it('never reuses an aborted signal or one a listener still holds', async () => {
    const { context } = fakeContext();
    const seen: AbortSignal[] = [];
    const pending = new Deferred<number>();
    const abandoned = fromCall(context, (s) => (seen.push(s!), pending.promise), { abortable: true }).subscribe();
    abandoned.unsubscribe();
    pending.reject(seen[0].reason);
    await settle();
    const leaky$ = fromCall(
      context,
      async (s) => {
        seen.push(s!);
        s!.addEventListener('abort', () => {});
      },
      { abortable: true },
    );
    await lastValueFrom(leaky$);
    await lastValueFrom(fromCall(context, async (s) => seen.push(s!), { abortable: true }));
    expect(seen[0].aborted).toBe(true);
    expect(new Set(seen).size).toBe(3);
    expect(seen[2].aborted).toBe(false);
  });
});
