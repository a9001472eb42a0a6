import { Delivery, SLICE_MS, type Sink } from '../../../lib/change-stream/delivery';
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

function setup(limit = 100) {
  const scheduler = new ManualScheduler();
  const sink = new RecordingSink();
  let progress = 0;
  const delivery = new Delivery(sink, -1, limit, scheduler, () => (progress += 1));
  return { scheduler, sink, delivery, progress: () => progress };
}

describe('Delivery', () => {
  it('delivers on the scheduler, never inside push, and tracks the last sequence handed over', () => {
    const { scheduler, sink, delivery, progress } = setup();
    delivery.push(0, 10);
    delivery.push(1, 11);
    expect(sink.values).toEqual([]);
    expect(delivery.delivered).toBe(-1);
    scheduler.advance(0);
    expect(sink.values).toEqual([10, 11]);
    expect(delivery.delivered).toBe(1);
    expect(progress()).toBe(1);
  });

  it('yields after a slice, so a subscriber slow in next() delays another by one slice at most', () => {
    const scheduler = new ManualScheduler();
    const order: string[] = [];
    const slow = new RecordingSink();
    slow.onNext = (v) => {
      order.push(`slow ${v}`);
      scheduler.spend(SLICE_MS / 2);
    };
    const fast = new RecordingSink();
    fast.onNext = (v) => order.push(`fast ${v}`);
    const a = new Delivery(slow, -1, 100, scheduler, () => {});
    const b = new Delivery(fast, -1, 100, scheduler, () => {});
    for (let seq = 0; seq < 4; seq += 1) {
      a.push(seq, seq);
      b.push(seq, seq);
    }
    scheduler.advance(100);
    expect(order).toEqual(['slow 0', 'slow 1', 'fast 0', 'fast 1', 'fast 2', 'fast 3', 'slow 2', 'slow 3']);
  });

  it('errors only this subscriber with SubscriberOverflowError, after what was queued', () => {
    const { scheduler, sink, delivery } = setup(3);
    expect([0, 1, 2].map((seq) => delivery.push(seq, seq))).toEqual([true, true, true]);
    expect(delivery.push(3, 3)).toBe(false);
    expect(delivery.accepting).toBe(false);
    expect(delivery.push(4, 4)).toBe(false);
    scheduler.advance(0);
    expect(sink.log).toEqual(['next 0', 'next 1', 'next 2', 'error SubscriberOverflowError']);
  });

  it('completes or errors after the queued events', () => {
    const done = setup();
    done.delivery.push(0, 1);
    done.delivery.end();
    done.scheduler.advance(0);
    expect(done.sink.log).toEqual(['next 1', 'complete']);

    const failed = setup();
    failed.delivery.push(0, 1);
    failed.delivery.end(new SubscriberOverflowError(1));
    failed.scheduler.advance(0);
    expect(failed.sink.log).toEqual(['next 1', 'error SubscriberOverflowError']);
  });

  it('stops delivering once the subscriber is closed, and dispose cancels the pending turn', () => {
    const { scheduler, sink, delivery } = setup();
    sink.onNext = () => (sink.closed = true);
    delivery.push(0, 1);
    delivery.push(1, 2);
    scheduler.advance(0);
    expect(sink.values).toEqual([1]);

    const other = setup();
    other.delivery.push(0, 1);
    other.delivery.dispose();
    expect(other.scheduler.pending).toBe(0);
    other.scheduler.advance(0);
    expect(other.sink.values).toEqual([]);
  });
});
