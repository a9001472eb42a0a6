/**
 * Edge 7: a consume() handler slower than the reader pauses reads once per
 * change; the pauses must hold no memory (each once raced a promise against
 * a stop signal that never settles, leaving one reaction per pause behind).
 * Nor may the events themselves: the reader once kept every resume token
 * the driver announced for the life of the cursor. Measured on the live
 * heap after garbage collection, over 40 000 pauses and 40 000 events.
 */
import { Timestamp } from 'mongodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RxChangeStream } from '../../../lib/change-stream';
import { FakeServer } from './fake-server';
import { recordStatus, until } from './helpers';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('consume() read-ahead pauses', () => {
  it('hold no memory: the live heap stays flat over 40 000 paused reads', async () => {
    const server = new FakeServer();
    server.maxAwaitMS = 1;
    const stream = new RxChangeStream(server.open, [], {});
    const status = recordStatus(stream);
    let handled = 0;
    let pauses = 0;
    const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    // highWaterMark 1: the reader pauses before every read until the handler (a turn later) is done.
    const subscription = stream
      .consume(() => {
        pauses += 1;
        // The fake server records every command it serves: forget them, they are not the stream's.
        if (pauses % 1_000 === 0) server.commands.length = 0;
        return immediate().then(() => void (handled += 1));
      }, { highWaterMark: 1 })
      .subscribe();
    await until(() => status.types().includes('opened'), 'opened');
    server.write(2_000); // warm up
    await until(() => handled >= 2_000, 'warm-up handled', 60_000);
    // The whole log is written before the first measure, so only what the pauses keep can grow.
    server.write(40_000);
    const before = liveHeap();
    await until(() => handled >= 42_000, 'all handled', 60_000);
    const after = liveHeap();
    subscription.unsubscribe();
    await until(() => server.live.length === 0, 'closed');
    const perPause = (after - before) / 40_000;
    console.log(`consume() pauses: ${pauses}, live heap growth ${perPause.toFixed(1)} B per pause `);
    expect(pauses).toBeGreaterThanOrEqual(42_000);
    // The leak kept several hundred bytes per pause.
    expect(perPause).toBeLessThan(40);
  }, 120_000);

  it('holds nothing per event: the live heap stays flat over 40 000 events with a handler slower than the reader', async () => {
    const server = new FakeServer();
    server.maxAwaitMS = 1;
    // The whole log is written before the first measure, so only what the run keeps per event can grow.
    server.write(42_000);
    const stream = new RxChangeStream(server.open, [], { startAtOperationTime: new Timestamp({ t: 1, i: 0 }) });
    let handled = 0;
    let before = 0;
    let after = 0;
    const done = (): void => {
      handled += 1;
      // The fake server records every command it serves: forget them, they are not the stream's.
      if (handled % 1_000 === 0) server.commands.length = 0;
      if (handled === 2_000) before = liveHeap();
      if (handled === 42_000) after = liveHeap();
    };
    // Every tenth event waits a millisecond: the reader runs ahead up to highWaterMark and waits.
    const subscription = stream
      .consume((change) => (change.n % 10 === 0 ? sleep(1).then(done) : done()), { highWaterMark: 100 })
      .subscribe();
    await until(() => handled >= 42_000, 'all handled', 60_000);
    subscription.unsubscribe();
    await until(() => server.live.length === 0, 'closed');
    const perEvent = (after - before) / 40_000;
    console.log(`consume() events: ${handled}, live heap growth ${perEvent.toFixed(1)} B per event`);
    // Keeping each event's resume token cost over a hundred bytes per event.
    expect(perEvent).toBeLessThan(40);
  }, 120_000);
});
