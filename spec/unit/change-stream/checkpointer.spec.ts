import { MongoNetworkError, MongoServerError, type ResumeToken } from 'mongodb';
import { Checkpointer } from '../../../lib/change-stream/checkpointer';
import type { CheckpointStore } from '../../../lib/checkpoint/store';
import { ManualScheduler } from './manual-scheduler';

const t = (n: number): { _data: string } => ({ _data: `T${n}` });
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A store whose saves complete when the spec says so. */
class GatedStore implements CheckpointStore {
  readonly saves: ResumeToken[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private gates: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  async load(): Promise<ResumeToken | undefined> {
    return undefined;
  }

  save(_key: string, token: ResumeToken): Promise<void> {
    this.saves.push(token);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<void>((resolve, reject) => this.gates.push({ resolve, reject })).finally(() => {
      this.inFlight -= 1;
    });
  }

  async complete(): Promise<void> {
    this.gates.shift()?.resolve();
    await turn();
  }

  async failWith(error: unknown): Promise<void> {
    this.gates.shift()?.reject(error);
    await turn();
  }
}

function setup(options: { events?: number; ms?: number; maxAttempts?: number } = {}) {
  const store = new GatedStore();
  const scheduler = new ManualScheduler();
  const saved: ResumeToken[] = [];
  const failed: unknown[] = [];
  const checkpointer = new Checkpointer(
    {
      store,
      key: 'k',
      events: options.events ?? 3,
      ms: options.ms ?? Infinity,
      retry: { initialDelayMS: 10, maxDelayMS: 100, factor: 2, jitter: 0, maxAttempts: options.maxAttempts ?? Infinity },
      scheduler,
    },
    { saved: (token) => saved.push(token), failed: (error) => failed.push(error) },
  );
  const advance = (ms: number): void => scheduler.advance(ms);
  return { store, scheduler, saved, failed, checkpointer, advance };
}

describe('Checkpointer', () => {
  it('saves once `events` events are unsaved, with the newest position', async () => {
    const { store, saved, checkpointer } = setup({ events: 3 });
    checkpointer.offer(t(1), 1);
    checkpointer.offer(t(2), 1);
    await turn();
    expect(store.saves).toEqual([]);
    checkpointer.offer(t(3), 1);
    await turn();
    expect(store.saves).toEqual([t(3)]);
    expect(checkpointer.unsavedEvents).toBe(3);
    await store.complete();
    expect(saved).toEqual([t(3)]);
    expect(checkpointer.unsavedEvents).toBe(0);
  });

  it('saves `ms` after the position first moved, also for post-batch tokens (0 events)', async () => {
    const { store, checkpointer, advance } = setup({ events: 100, ms: 1000 });
    checkpointer.offer(t(5), 0);
    advance(600);
    checkpointer.offer(t(6), 0);
    advance(399);
    await turn();
    expect(store.saves).toEqual([]);
    advance(1);
    await turn();
    expect(store.saves).toEqual([t(6)]);
  });

  it('keeps one save in flight and then saves only the newest position', async () => {
    const { store, saved, checkpointer } = setup({ events: 1 });
    checkpointer.offer(t(1), 1);
    await turn();
    for (let n = 2; n <= 6; n += 1) checkpointer.offer(t(n), 1);
    await turn();
    expect(store.saves).toEqual([t(1)]);
    await store.complete();
    expect(store.saves).toEqual([t(1), t(6)]);
    await store.complete();
    expect(saved).toEqual([t(1), t(6)]);
    expect(store.maxInFlight).toBe(1);
  });

  it('retries a transient failure after a backoff with the newest position', async () => {
    const { store, saved, failed, checkpointer, advance } = setup({ events: 1 });
    checkpointer.offer(t(1), 1);
    await turn();
    await store.failWith(new MongoNetworkError('down'));
    checkpointer.offer(t(2), 1);
    advance(9);
    await turn();
    expect(store.saves).toEqual([t(1)]);
    advance(1);
    await turn();
    expect(store.saves).toEqual([t(1), t(2)]);
    await store.complete();
    expect(saved).toEqual([t(2)]);
    expect(failed).toEqual([]);
  });

  it('reports a fatal failure once and stops saving', async () => {
    const { store, failed, checkpointer, advance } = setup({ events: 1 });
    const denied = new MongoServerError({ message: 'not authorized', code: 13 });
    checkpointer.offer(t(1), 1);
    await turn();
    await store.failWith(denied);
    checkpointer.offer(t(2), 1);
    advance(1000);
    await turn();
    expect(failed).toEqual([denied]);
    expect(store.saves).toEqual([t(1)]);
  });

  it('gives up after retry.maxAttempts consecutive transient failures', async () => {
    const { store, failed, checkpointer, advance } = setup({ events: 1, maxAttempts: 2 });
    checkpointer.offer(t(1), 1);
    await turn();
    await store.failWith(new MongoNetworkError('down'));
    advance(10);
    await turn();
    const last = new MongoNetworkError('still down');
    await store.failWith(last);
    expect(store.saves).toHaveLength(2);
    expect(failed).toEqual([last]);
  });

  it('flush waits for the save in flight, then saves the newest position once', async () => {
    const { store, saved, checkpointer } = setup({ events: 1 });
    checkpointer.offer(t(1), 1);
    await turn();
    checkpointer.offer(t(2), 1);
    const flushed = checkpointer.flush();
    await turn();
    expect(store.saves).toEqual([t(1)]);
    await store.complete();
    expect(store.saves).toEqual([t(1), t(2)]);
    await store.complete();
    await flushed;
    expect(saved).toEqual([t(1), t(2)]);
    checkpointer.offer(t(3), 1);
    await checkpointer.flush();
    expect(store.saves).toHaveLength(2);
  });

  it('flush saves nothing when the newest position is already saved, and rejects when its save fails', async () => {
    const { store, checkpointer } = setup({ events: 1 });
    await checkpointer.flush();
    expect(store.saves).toEqual([]);
    const second = setup({ events: 10 });
    second.checkpointer.offer(t(1), 1);
    const flushed = second.checkpointer.flush();
    await turn();
    const broken = new Error('disk full');
    const outcome = expect(flushed).rejects.toBe(broken);
    await second.store.failWith(broken);
    await outcome;
  });

  it('does not save again the position it was started from', async () => {
    const { store, checkpointer } = setup({ events: 1 });
    checkpointer.startFrom(t(4));
    checkpointer.offer(t(4), 0);
    await checkpointer.flush();
    expect(store.saves).toEqual([]);
  });

  it('backlog holds a consumer while `events` events are unsaved, until a save lands', async () => {
    const { store, checkpointer } = setup({ events: 2 });
    checkpointer.offer(t(1), 1);
    expect(checkpointer.backlog()).toBeUndefined();
    checkpointer.offer(t(2), 1);
    const backlog = checkpointer.backlog();
    expect(backlog).toBeInstanceOf(Promise);
    let released = false;
    void backlog?.then(() => (released = true));
    await turn();
    expect(released).toBe(false);
    await store.complete();
    expect(released).toBe(true);
    expect(checkpointer.backlog()).toBeUndefined();
  });
});
