/**
 * The fan-out of one change stream to its plain subscribers: a round per
 * driver batch (synchronous, or one task on a given scheduler), one shared
 * log with an index per subscriber, turns bounded by a slice, overflow of a
 * lagging subscriber alone, and the acknowledgement it reports.
 */
import { queueScheduler, Subject } from 'rxjs';
import { Fanout, SLICE_MS, type Sink } from '../../../lib/change-stream/delivery';
import { SubscriberOverflowError } from '../../../lib/errors';
import { ManualScheduler } from './manual-scheduler';

class RecordingSink implements Sink<number> {
  closed = false;
  readonly values: number[] = [];
  readonly log: string[] = [];
  onNext: (value: number) => void = () => {};

  next(value: number): void {
    this.values.push(value);
    this.log.push(`next ${value}`);
    this.onNext(value);
  }

  error(error: unknown): void {
    this.closed = true;
    this.log.push(`error ${(error as Error).name}`);
  }

  complete(): void {
    this.closed = true;
    this.log.push('complete');
  }
}

interface Setup {
  fanout: Fanout<number>;
  handled: number[];
  settled: () => number;
  /** The fake clock (ms), moved by the specs. */
  clock: { now: number; reads: number };
  /** Pushes `count` events numbered from the next sequence number, values = sequence numbers. */
  write(count: number): void;
}

function setup(options: { limit?: number; scheduler?: ManualScheduler } = {}): Setup {
  const handled: number[] = [];
  let settled = 0;
  const clock = { now: 0, reads: 0 };
  const scheduler = options.scheduler;
  const fanout = new Fanout<number>(
    {
      limit: options.limit ?? 100,
      scheduler,
      now: () => {
        clock.reads += 1;
        return scheduler?.now() ?? clock.now;
      },
      handled: (seq) => handled.push(seq),
      settled: () => (settled += 1),
    },
    0,
  );
  let seq = 0;
  return {
    fanout,
    handled,
    settled: () => settled,
    clock,
    write(count) {
      for (let i = 0; i < count; i += 1, seq += 1) fanout.push(seq, seq);
    },
  };
}

describe('Fanout', () => {
  it('hands a batch to every subscriber when it ends, synchronously, and acknowledges it once', () => {
    const { fanout, handled, write } = setup();
    const a = new RecordingSink();
    const b = new RecordingSink();
    fanout.add(a);
    fanout.add(b);
    write(3);
    expect(a.values).toEqual([]);
    expect(fanout.waiting).toBe(true);
    fanout.flush();
    expect(a.values).toEqual([0, 1, 2]);
    expect(b.values).toEqual([0, 1, 2]);
    expect(fanout.waiting).toBe(false);
    expect(fanout.busy).toBe(false);
    expect(handled).toEqual([2]);
    fanout.flush();
    expect(handled).toEqual([2]);
  });

  it('gives a late subscriber the events read from its arrival on', () => {
    const { fanout, write } = setup();
    const early = new RecordingSink();
    fanout.add(early);
    write(2);
    const late = new RecordingSink();
    fanout.add(late);
    write(2);
    fanout.flush();
    expect(early.values).toEqual([0, 1, 2, 3]);
    expect(late.values).toEqual([2, 3]);
  });

  it('acknowledges each batch at once when no one is subscribed', () => {
    const { fanout, handled, write } = setup();
    write(4);
    fanout.flush();
    expect(handled).toEqual([3]);
  });

  it('delivers through a given scheduler, one task per batch, and the reader waits for it', () => {
    const scheduler = new ManualScheduler();
    const { fanout, handled, write } = setup({ scheduler });
    const sink = new RecordingSink();
    fanout.add(sink);
    write(2);
    fanout.flush();
    expect(sink.values).toEqual([]);
    expect(scheduler.pending).toBe(1);
    expect(fanout.waiting).toBe(true);
    scheduler.advance(0);
    expect(sink.values).toEqual([0, 1]);
    expect(fanout.waiting).toBe(false);
    expect(handled).toEqual([1]);
  });

  it('delivers every batch through a synchronous scheduler (queueScheduler) too', () => {
    const fanout = new Fanout<number>(
      { limit: 10, scheduler: queueScheduler, now: () => queueScheduler.now(), handled: () => {}, settled: () => {} },
      0,
    );
    const sink = new RecordingSink();
    fanout.add(sink);
    for (let seq = 0; seq < 3; seq += 1) {
      fanout.push(seq, seq);
      fanout.flush();
    }
    expect(sink.values).toEqual([0, 1, 2]);
    expect(fanout.waiting).toBe(false);
  });

  it('cuts a subscriber slow in next() off after a slice; the others get the whole batch first', () => {
    const scheduler = new ManualScheduler();
    const { fanout, handled, write } = setup({ scheduler });
    const order: string[] = [];
    const slow = new RecordingSink();
    slow.onNext = (v) => {
      order.push(`slow ${v}`);
      scheduler.spend(SLICE_MS / 2);
    };
    const fast = new RecordingSink();
    fast.onNext = (v) => order.push(`fast ${v}`);
    fanout.add(slow);
    fanout.add(fast);
    write(4);
    fanout.flush();
    scheduler.advance(0);
    expect(order).toEqual(['slow 0', 'slow 1', 'fast 0', 'fast 1', 'fast 2', 'fast 3']);
    expect(fanout.waiting).toBe(false); // the reader goes on: the slow one has had its turn
    expect(handled).toEqual([1]); // what every subscriber was handed
    scheduler.advance(0);
    expect(order.slice(6)).toEqual(['slow 2', 'slow 3']);
    expect(handled).toEqual([1, 3]);
  });

  it('continues a cut-off subscriber on a later turn of the event loop when no scheduler is given', async () => {
    const { fanout, clock, write } = setup();
    const slow = new RecordingSink();
    slow.onNext = () => (clock.now += SLICE_MS);
    fanout.add(slow);
    write(3);
    fanout.flush();
    expect(slow.values).toEqual([0]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(slow.values).toEqual([0, 1]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(slow.values).toEqual([0, 1, 2]);
  });

  it('reads the clock a few times per subscriber per batch, not once per event', () => {
    const { fanout, clock, write } = setup({ limit: 1_000 });
    for (let i = 0; i < 10; i += 1) fanout.add(new RecordingSink());
    write(500);
    fanout.flush();
    expect(clock.reads).toBeLessThanOrEqual(1 + 10 * 7);
  });

  it('errors a subscriber still more than bufferSize behind after its turn, after the events it had room for; the others go on', () => {
    const scheduler = new ManualScheduler();
    const { fanout, handled, write } = setup({ limit: 3, scheduler });
    const slow = new RecordingSink();
    slow.onNext = () => scheduler.spend(SLICE_MS);
    const fast = new RecordingSink();
    fanout.add(slow);
    fanout.add(fast);
    write(6);
    fanout.flush();
    scheduler.advance(0);
    // After its turn (1 event) it is 5 behind: it gets 3 more, then the error.
    expect(slow.log).toEqual(['next 0']);
    expect(fast.values).toEqual([0, 1, 2, 3, 4, 5]);
    expect(handled).toEqual([5]); // an overflowed subscriber no longer holds the acknowledgement back
    for (let i = 0; i < 5; i += 1) scheduler.advance(0);
    expect(slow.log).toEqual(['next 0', 'next 1', 'next 2', 'next 3', 'error SubscriberOverflowError']);
    write(2);
    fanout.flush();
    scheduler.advance(0);
    expect(fast.values).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(slow.values).toEqual([0, 1, 2, 3]);
  });

  it('lets a batch larger than bufferSize through to a subscriber that keeps up', () => {
    const { fanout, write } = setup({ limit: 2 });
    const sink = new RecordingSink();
    fanout.add(sink);
    write(10);
    fanout.flush();
    expect(sink.log).toHaveLength(10);
    expect(sink.closed).toBe(false);
  });

  it('stops at once for a subscriber that leaves in next(), and acknowledges without it', async () => {
    const { fanout, handled, write } = setup();
    const leaving = new RecordingSink();
    const stays = new RecordingSink();
    const lane = fanout.add(leaving);
    leaving.onNext = (v) => {
      if (v === 1) fanout.remove(lane);
    };
    fanout.add(stays);
    write(4);
    fanout.flush();
    expect(leaving.values).toEqual([0, 1]);
    expect(stays.values).toEqual([0, 1, 2, 3]);
    expect(handled).toEqual([3]);

    // Leaving outside a round releases the acknowledgement on the next microtask.
    const scheduler = new ManualScheduler();
    const other = setup({ scheduler });
    const slow = new RecordingSink();
    slow.onNext = () => scheduler.spend(SLICE_MS);
    const slowLane = other.fanout.add(slow);
    other.fanout.add(new RecordingSink());
    other.write(3);
    other.fanout.flush();
    scheduler.advance(0);
    expect(other.handled).toEqual([0]);
    other.fanout.remove(slowLane);
    await Promise.resolve();
    expect(other.handled).toEqual([0, 2]);
  });

  it('ends every subscriber after the events it has yet to get: complete, or error', () => {
    const done = setup();
    const a = new RecordingSink();
    done.fanout.add(a);
    done.write(1);
    done.fanout.flush();
    done.fanout.end(undefined, false);
    expect(a.log).toEqual(['next 0', 'complete']);

    const scheduler = new ManualScheduler();
    const failed = setup({ scheduler });
    const b = new RecordingSink();
    failed.fanout.add(b);
    failed.write(2);
    failed.fanout.flush();
    failed.fanout.end(new SubscriberOverflowError(1), true);
    scheduler.advance(0);
    expect(b.log).toEqual(['next 0', 'next 1', 'error SubscriberOverflowError']);
  });

  it('halt drops what was not handed over and acknowledges none of it', () => {
    const scheduler = new ManualScheduler();
    const { fanout, handled, write } = setup({ scheduler });
    const sink = new RecordingSink();
    fanout.add(sink);
    write(3);
    fanout.flush();
    fanout.halt();
    scheduler.advance(0);
    expect(sink.values).toEqual([]);
    expect(handled).toEqual([]);
    expect(fanout.busy).toBe(false);
  });

  it('a plain sink whose next throws errors alone', () => {
    const { fanout, write } = setup();
    const boom = new Error('sink bug');
    const throwing = new RecordingSink();
    throwing.onNext = () => {
      throw boom;
    };
    const healthy = new RecordingSink();
    fanout.add(throwing);
    fanout.add(healthy);
    write(2);
    fanout.flush();
    expect(throwing.log).toEqual(['next 0', 'error Error']);
    expect(healthy.values).toEqual([0, 1]);
  });

  it('hands every subscriber the same event object: no copy or wrapper per subscriber', () => {
    const fanout = new Fanout<object>({ limit: 10, scheduler: undefined, now: () => 0, handled: () => {}, settled: () => {} }, 0);
    const seen: unknown[] = [];
    for (let i = 0; i < 50; i += 1) {
      const subject = new Subject<object>();
      subject.subscribe((value) => seen.push(value));
      fanout.add(subject);
    }
    const event = { operationType: 'insert' };
    fanout.push(event, 0);
    fanout.flush();
    expect(seen).toHaveLength(50);
    expect(seen.every((value) => value === event)).toBe(true);
  });
});
