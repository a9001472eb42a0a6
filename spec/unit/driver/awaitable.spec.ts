import { concatWith, firstValueFrom, isObservable, lastValueFrom, of, toArray, VirtualTimeScheduler } from 'rxjs';
import { Awaitable } from '../../../lib/driver/awaitable';
import { Deferred, settle } from './fakes';

describe('Awaitable', () => {
  it('is both a PromiseLike and an Observable of one shared outcome', async () => {
    const work = new Deferred<number>();
    const outcome = new Awaitable(work.promise);
    expect(isObservable(outcome)).toBe(true);
    const seen: number[] = [];
    outcome.subscribe((v) => seen.push(v));
    outcome.subscribe((v) => seen.push(v * 10));
    work.resolve(4);
    await expect(outcome).resolves.toBe(4);
    expect(await outcome).toBe(4);
    expect(seen).toEqual([4, 40]);
    await expect(lastValueFrom(of(1).pipe(concatWith(outcome), toArray()))).resolves.toEqual([1, 4]);
  });

  it('gives its error to every observer, and an unobserved one to nobody', async () => {
    const boom = new Error('boom');
    const outcome = new Awaitable(Promise.reject(boom));
    await expect(outcome).rejects.toBe(boom);
    await expect(firstValueFrom(outcome)).rejects.toBe(boom);
    new Awaitable(Promise.reject(new Error('nobody listens')));
    await settle(); // jest fails the spec on an unhandled rejection
  });

  it('delivers to subscribers on the given scheduler', async () => {
    const scheduler = new VirtualTimeScheduler();
    const seen: string[] = [];
    new Awaitable(Promise.resolve('x'), scheduler).subscribe((v) => seen.push(v));
    await settle();
    expect(seen).toEqual([]);
    scheduler.flush();
    expect(seen).toEqual(['x']);
  });
});
