/**
 * The save schedule on a manual clock, with saves that complete when the
 * spec says so: boundaries of `every.events` honoured exactly, `every.ms`,
 * one save in flight of the newest position, backlog, flush.
 */
import type { ResumeToken } from 'mongodb';
import { SaveSchedule } from '../../../../lib/change-stream/position/schedule';
import { ManualScheduler } from '../manual-scheduler';

const t = (n: number): { _data: string } => ({ _data: `T${n}` });
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(options: { events?: number; ms?: number } = {}) {
  const scheduler = new ManualScheduler();
  const saves: ResumeToken[] = [];
  const saved: ResumeToken[] = [];
  const failed: unknown[] = [];
  const gates: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const schedule = new SaveSchedule({
    events: options.events ?? 3,
    ms: options.ms ?? Infinity,
    scheduler,
    save: (token) => {
      saves.push(token);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<void>((resolve, reject) => gates.push({ resolve, reject })).finally(() => {
        inFlight -= 1;
      });
    },
    saved: (token) => saved.push(token),
    failed: (error) => failed.push(error),
  });
  return {
    scheduler,
    schedule,
    saves,
    saved,
    failed,
    maxInFlight: () => maxInFlight,
    complete: async () => {
      gates.shift()?.resolve();
      await turn();
    },
    fail: async (error: unknown) => {
      gates.shift()?.reject(error);
      await turn();
    },
  };
}

describe('SaveSchedule', () => {
  it('saves once `events` events are unsaved, with the newest position', async () => {
    const s = setup({ events: 3 });
    s.schedule.moved(t(1), 1);
    s.schedule.moved(t(2), 1);
    expect(s.saves).toEqual([]);
    s.schedule.moved(t(3), 1);
    expect(s.saves).toEqual([t(3)]);
    expect(s.schedule.unsaved).toBe(3);
    await s.complete();
    expect(s.saved).toEqual([t(3)]);
    expect(s.schedule.unsaved).toBe(0);
  });

  it('honours every.events exactly: 20 000 events acknowledged one by one make 200 saves of every 100th position', async () => {
    const s = setup({ events: 100 });
    for (let n = 1; n <= 20_000; n += 1) {
      s.schedule.moved(t(n), 1);
      if (n % 100 === 0) await s.complete();
    }
    expect(s.saves).toHaveLength(200);
    expect(s.saves.every((token, i) => (token as { _data: string })._data === `T${(i + 1) * 100}`)).toBe(true);
  });

  it('a boundary passed during a save makes the newest position the next save, as soon as it lands', async () => {
    const s = setup({ events: 10 });
    for (let n = 1; n <= 10; n += 1) s.schedule.moved(t(n), 1);
    for (let n = 11; n <= 35; n += 1) s.schedule.moved(t(n), 1);
    expect(s.saves).toEqual([t(10)]);
    await s.complete();
    expect(s.saves).toEqual([t(10), t(35)]);
    await s.complete();
    expect(s.saved).toEqual([t(10), t(35)]);
    expect(s.maxInFlight()).toBe(1);
  });

  it('saves `ms` after the position first moved, also for post-batch tokens (0 events)', async () => {
    const s = setup({ events: 100, ms: 1000 });
    s.schedule.moved(t(5), 0);
    s.scheduler.advance(600);
    s.schedule.moved(t(6), 0);
    s.scheduler.advance(399);
    expect(s.saves).toEqual([]);
    s.scheduler.advance(1);
    expect(s.saves).toEqual([t(6)]);
  });

  it('reports a failed save once and stops saving', async () => {
    const s = setup({ events: 1 });
    const broken = new Error('disk full');
    s.schedule.moved(t(1), 1);
    await s.fail(broken);
    s.schedule.moved(t(2), 1);
    s.scheduler.advance(10_000);
    expect(s.failed).toEqual([broken]);
    expect(s.saves).toEqual([t(1)]);
  });

  it('saveNow stores the newest position and resolves once it is stored', async () => {
    const s = setup({ events: 100, ms: 60_000 });
    s.schedule.moved(t(1), 0);
    let done = false;
    const now = s.schedule.saveNow().then(() => (done = true));
    await turn();
    expect(s.saves).toEqual([t(1)]);
    expect(done).toBe(false);
    await s.complete();
    await now;
    expect(s.saved).toEqual([t(1)]);
    expect(s.scheduler.pending).toBe(0);
  });

  it('after an `events` save, the next `ms` save comes `ms` after the position moves again', async () => {
    const s = setup({ events: 2, ms: 1000 });
    s.schedule.moved(t(1), 1);
    s.scheduler.advance(400);
    s.schedule.moved(t(2), 1);
    expect(s.saves).toEqual([t(2)]);
    await s.complete();
    s.scheduler.advance(100);
    s.schedule.moved(t(3), 1);
    s.scheduler.advance(500);
    expect(s.saves).toEqual([t(2)]);
    s.scheduler.advance(499);
    expect(s.saves).toEqual([t(2)]);
    s.scheduler.advance(1);
    expect(s.saves).toEqual([t(2), t(3)]);
    expect(s.scheduler.pending).toBe(0);
  });

  it('an `ms` save that fell due during a hold comes `ms` after the release', async () => {
    const s = setup({ events: 100, ms: 1000 });
    s.schedule.moved(t(1), 1);
    const release = await s.schedule.hold();
    s.scheduler.advance(1000);
    expect(s.saves).toEqual([]);
    release();
    s.scheduler.advance(999);
    expect(s.saves).toEqual([]);
    s.scheduler.advance(1);
    expect(s.saves).toEqual([t(1)]);
  });

  it('flush waits for the save in flight, then saves the newest position once', async () => {
    const s = setup({ events: 1 });
    s.schedule.moved(t(1), 1);
    s.schedule.moved(t(2), 1);
    const flushes: ResumeToken[] = [];
    const flushed = s.schedule.flush(async (token) => void flushes.push(token));
    await s.complete();
    await flushed;
    expect(s.saves).toEqual([t(1)]);
    expect(flushes).toEqual([t(2)]);
    expect(s.saved).toEqual([t(1), t(2)]);
    s.schedule.moved(t(3), 1);
    expect(s.saves).toHaveLength(1);
  });

  it('flush saves nothing when the newest position is stored, and rejects when its save fails', async () => {
    const s = setup({ events: 1 });
    s.schedule.stored(t(4));
    s.schedule.moved(t(4), 0);
    await s.schedule.flush(async () => {
      throw new Error('must not be called');
    });
    const second = setup({ events: 10 });
    second.schedule.moved(t(1), 1);
    const broken = new Error('disk full');
    await expect(second.schedule.flush(() => Promise.reject(broken))).rejects.toBe(broken);
  });

  it('backlog holds a consumer while `events` events are unsaved, until a save lands', async () => {
    const s = setup({ events: 2 });
    s.schedule.moved(t(1), 1);
    expect(s.schedule.backlog()).toBeUndefined();
    s.schedule.moved(t(2), 1);
    let released = false;
    void s.schedule.backlog()?.then(() => (released = true));
    await turn();
    expect(released).toBe(false);
    await s.complete();
    expect(released).toBe(true);
    expect(s.schedule.backlog()).toBeUndefined();
  });

  it('stop releases waiting consumers and cancels the timer', async () => {
    const s = setup({ events: 1, ms: 500 });
    s.schedule.moved(t(1), 0);
    expect(s.scheduler.pending).toBe(1);
    s.schedule.moved(t(2), 1);
    let released = false;
    void s.schedule.backlog()?.then(() => (released = true));
    s.schedule.stop();
    await turn();
    expect(released).toBe(true);
    expect(s.scheduler.pending).toBe(0);
  });
});
