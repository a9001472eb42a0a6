import { asapScheduler, asyncScheduler } from 'rxjs';
import { Timestamp } from 'mongodb';
import { RxChangeStream } from '../../../lib/change-stream';
import { DEFAULTS, resolveWatchOptions } from '../../../lib/change-stream/options';
import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { FakeServer } from './fake-server';

const store = new MemoryCheckpointStore();

describe('watch() options', () => {
  it('applies the documented defaults and passes driver options through untouched', () => {
    const resolved = resolveWatchOptions(undefined, { fullDocument: 'updateLookup', batchSize: 50, comment: { by: 'spec' } });
    expect(resolved.pipeline).toEqual([]);
    expect(resolved.driverOptions).toEqual({ fullDocument: 'updateLookup', batchSize: 50, comment: { by: 'spec' } });
    expect(resolved).toMatchObject({
      linger: DEFAULTS.linger,
      highWaterMark: 100,
      bufferSize: 10_000,
      onHistoryLost: 'error',
      onInvalidate: 'complete',
      checkpoint: undefined,
      scheduler: asyncScheduler,
      deliverOn: undefined,
    });
    const given = resolveWatchOptions([], { scheduler: asapScheduler });
    expect(given).toMatchObject({ scheduler: asapScheduler, deliverOn: asapScheduler });
    expect(resolved.retry).toEqual({ initialDelayMS: 100, maxDelayMS: 30_000, factor: 2, jitter: 0.5, maxAttempts: Infinity });
    const withCheckpoint = resolveWatchOptions([], { checkpoint: { store, key: 'k' } });
    expect(withCheckpoint.checkpoint).toEqual({ store, key: 'k', events: 100, ms: 1000 });
    expect(withCheckpoint.driverOptions).toEqual({});
  });

  it.each<[string, unknown, unknown, ErrorConstructor]>([
    ['a pipeline that is not an array', { $match: {} }, {}, TypeError],
    ['a stage that is not a document', [1], {}, TypeError],
    ['options that are not an object', [], 'fast', TypeError],
    ['resumeAfter with startAfter', [], { resumeAfter: { _data: 'a' }, startAfter: { _data: 'b' } }, TypeError],
    ['startAfter with startAtOperationTime', [], { startAfter: { _data: 'b' }, startAtOperationTime: new Timestamp({ t: 1, i: 1 }) }, TypeError],
    ['a non-string fullDocument', [], { fullDocument: true }, TypeError],
    ['a negative batchSize', [], { batchSize: -1 }, RangeError],
    ['a checkpoint without a store', [], { checkpoint: { key: 'k' } }, TypeError],
    ['a checkpoint with an empty key', [], { checkpoint: { store, key: '' } }, TypeError],
    ['checkpoint.every.events of 0', [], { checkpoint: { store, key: 'k', every: { events: 0 } } }, RangeError],
    ['checkpoint.every.ms of 0', [], { checkpoint: { store, key: 'k', every: { ms: 0 } } }, RangeError],
    ['a negative linger', [], { linger: -1 }, RangeError],
    ['an infinite linger', [], { linger: Infinity }, RangeError],
    ['a highWaterMark of 0', [], { highWaterMark: 0 }, RangeError],
    ['a fractional bufferSize', [], { bufferSize: 2.5 }, RangeError],
    ['retry.jitter of 1 (could make a zero delay)', [], { retry: { jitter: 1 } }, RangeError],
    ['retry.factor below 1', [], { retry: { factor: 0.5 } }, RangeError],
    ['retry.maxDelayMS below initialDelayMS', [], { retry: { initialDelayMS: 100, maxDelayMS: 50 } }, RangeError],
    ['retry.initialDelayMS of 0', [], { retry: { initialDelayMS: 0 } }, RangeError],
    ['an unknown onHistoryLost', [], { onHistoryLost: 'skip' }, TypeError],
    ['an unknown onInvalidate', [], { onInvalidate: 'ignore' }, TypeError],
    ['a scheduler that is not one', [], { scheduler: {} }, TypeError],
  ])('throws at the call for %s', (_what, pipeline, options, type) => {
    const server = new FakeServer();
    expect(() => new RxChangeStream(server.open, pipeline as never, options as never)).toThrow(type);
    expect(server.opened).toHaveLength(0);
  });

  it('accepts the edges: Infinity counts, maxAttempts 0, a history-lost function', () => {
    const resolved = resolveWatchOptions([], {
      checkpoint: { store, key: 'k', every: { events: Infinity, ms: Infinity } },
      retry: { maxAttempts: 0 },
      onHistoryLost: () => [],
    });
    expect(resolved.checkpoint).toMatchObject({ events: Infinity, ms: Infinity });
    expect(resolved.retry.maxAttempts).toBe(0);
    expect(typeof resolved.onHistoryLost).toBe('function');
  });

  it('rejects a missing opener, a non-function handler and a bad consume highWaterMark at the call', () => {
    expect(() => new RxChangeStream(undefined as never)).toThrow(TypeError);
    const stream = new RxChangeStream(new FakeServer().open);
    expect(() => stream.consume('handler' as never)).toThrow(TypeError);
    expect(() => stream.consume(() => undefined, { highWaterMark: 0 })).toThrow(RangeError);
    expect(() => stream.consume(() => undefined, 5 as never)).toThrow(TypeError);
  });
});
