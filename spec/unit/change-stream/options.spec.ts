import { asapScheduler, asyncScheduler } from 'rxjs';
import { Timestamp } from 'mongodb';
import { RxChangeStream } from '../../../lib/change-stream';
import { resolveConsumeOptions } from '../../../lib/change-stream/consume-options';
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
    expect(withCheckpoint.checkpoint).toEqual({
      store,
      key: 'k',
      events: 100,
      ms: 1000,
      start: 'now',
      timeoutMS: 10_000,
      lease: { ttlMS: 10_000, wait: true },
    });
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
    ['a store without a lease (load and save only)', [], { checkpoint: { store: { load: async () => undefined, save: async () => {} }, key: 'k' } }, TypeError],
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
    ['a linger beyond 2^31 - 1 ms', [], { linger: 2 ** 31 }, RangeError],
    ['checkpoint.every.ms beyond 2^31 - 1 ms', [], { checkpoint: { store, key: 'k', every: { ms: 2 ** 31 } } }, RangeError],
    ['retry.maxDelayMS beyond 2^31 - 1 ms', [], { retry: { maxDelayMS: 2 ** 31 } }, RangeError],
    ['checkpoint.timeoutMS of 0', [], { checkpoint: { store, key: 'k', timeoutMS: 0 } }, RangeError],
    ['checkpoint.lease.ttlMS beyond 2^31 - 1 ms', [], { checkpoint: { store, key: 'k', lease: { ttlMS: 2 ** 31 } } }, RangeError],
    ['a fractional checkpoint.lease.ttlMS', [], { checkpoint: { store, key: 'k', lease: { ttlMS: 1.5 } } }, RangeError],
    ['a non-boolean checkpoint.lease.wait', [], { checkpoint: { store, key: 'k', lease: { wait: 'no' } } }, TypeError],
    ['maxAwaitTimeMS beyond 2^31 - 1 ms', [], { maxAwaitTimeMS: 2 ** 31 }, RangeError],
    ['a string batchSize', [], { batchSize: '10' }, TypeError],
    ['checkpoint.start that is a string other than now', [], { checkpoint: { store, key: 'k', start: 'later' } }, TypeError],
    ['checkpoint.start together with startAfter', [], { startAfter: { _data: 'a' }, checkpoint: { store, key: 'k', start: 'now' } }, TypeError],
  ])('throws at the call for %s', (_what, pipeline, options, type) => {
    const server = new FakeServer();
    expect(() => new RxChangeStream(server.open, pipeline as never, options as never)).toThrow(type);
    expect(server.opened).toHaveLength(0);
  });

  it.each<[string, unknown, RegExp]>([
    ['a misspelt watch() option', { lingr: 5 }, /watch\(\) options has no option "lingr"; known options: checkpoint, linger, .*fullDocument/],
    ['a misspelt checkpoint option', { checkpoint: { store, key: 'k', evry: { events: 1 } } }, /checkpoint has no option "evry"; known options: store, key, every, start, timeoutMS, lease/],
    ['a misspelt checkpoint.every option', { checkpoint: { store, key: 'k', every: { event: 1 } } }, /checkpoint.every has no option "event"; known options: events, ms/],
    ['a misspelt lease option', { checkpoint: { store, key: 'k', lease: { ttl: 1 } } }, /checkpoint.lease has no option "ttl"; known options: ttlMS, wait/],
    ['a misspelt retry option', { retry: { maxAttempt: 1 } }, /retry has no option "maxAttempt"/],
  ])('names the unknown key and the known ones for %s (TypeError)', (_what, options, message) => {
    const server = new FakeServer();
    expect(() => new RxChangeStream(server.open, [], options as never)).toThrow(TypeError);
    expect(() => new RxChangeStream(server.open, [], options as never)).toThrow(message);
  });

  it.each<[string, unknown, string]>([
    ['linger', { linger: NaN }, 'linger must be a duration from 0 to 2147483647 ms, got NaN'],
    ['checkpoint.every.events', { checkpoint: { store, key: 'k', every: { events: NaN } } }, 'checkpoint.every.events must be an integer ≥ 1 or Infinity, got NaN'],
    ['retry.factor', { retry: { factor: NaN } }, 'retry.factor must be a finite number ≥ 1, got NaN'],
    ['linger (too long)', { linger: 2 ** 31 }, 'linger must be a duration from 0 to 2147483647 ms, got 2147483648'],
  ])('says NaN (or the value) and the range for %s', (_what, options, message) => {
    const server = new FakeServer();
    expect(() => new RxChangeStream(server.open, [], options as never)).toThrow(RangeError);
    expect(() => new RxChangeStream(server.open, [], options as never)).toThrow(message);
  });

  it('takes the first-run start from checkpoint.start, or from a driver start option, and keeps the driver options clean', () => {
    const time = new Timestamp({ t: 100, i: 1 });
    expect(resolveWatchOptions([], { checkpoint: { store, key: 'k', start: time } }).checkpoint?.start).toEqual({ time });
    expect(resolveWatchOptions([], { checkpoint: { store, key: 'k', start: { _data: 'AA' } } }).checkpoint?.start).toEqual({ token: { _data: 'AA' } });
    const fromDriver = resolveWatchOptions([], { startAtOperationTime: time, checkpoint: { store, key: 'k' } });
    expect(fromDriver.checkpoint?.start).toEqual({ time });
    expect(fromDriver.driverOptions).toEqual({});
    expect(resolveWatchOptions([], { startAfter: { _data: 'B' } }).driverOptions).toEqual({ startAfter: { _data: 'B' } });
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

  it('rejects a missing opener, a non-function handler, unknown consume options and a bad highWaterMark at the call', () => {
    expect(() => new RxChangeStream(undefined as never)).toThrow(TypeError);
    const stream = new RxChangeStream(new FakeServer().open);
    expect(() => stream.consume('handler' as never)).toThrow(TypeError);
    expect(() => stream.consume(undefined as never)).toThrow('consume() needs a handler function, got undefined');
    expect(() => stream.consume(() => undefined, { highWatermark: 5 } as never)).toThrow(
      'consume() options has no option "highWatermark"; known options: highWaterMark',
    );
    expect(() => stream.consume(() => undefined, { highWaterMark: 0 })).toThrow(RangeError);
    expect(() => stream.consume(() => undefined, 5 as never)).toThrow(TypeError);
  });
});

describe('watch() options of issue 17', () => {
  it('splitLargeEvents appends $changeStreamSplitLargeEvent as the last stage; initialSnapshot is a flag', () => {
    const resolved = resolveWatchOptions([{ $match: { operationType: 'update' } }], { splitLargeEvents: true, initialSnapshot: true });
    expect(resolved.pipeline).toEqual([{ $match: { operationType: 'update' } }, { $changeStreamSplitLargeEvent: {} }]);
    expect(resolved).toMatchObject({ splitLargeEvents: true, initialSnapshot: true });
    expect(resolveWatchOptions([], {})).toMatchObject({ pipeline: [], splitLargeEvents: false, initialSnapshot: false });
  });

  it.each<[string, unknown[], unknown, RegExp]>([
    ['the stage given twice', [{ $changeStreamSplitLargeEvent: {} }], { splitLargeEvents: true }, /adds the \$changeStreamSplitLargeEvent stage itself/],
    ['initialSnapshot with startAtOperationTime', [], { initialSnapshot: true, startAtOperationTime: new Timestamp({ t: 1, i: 1 }) }, /cannot be combined with startAtOperationTime/],
    ['initialSnapshot with resumeAfter', [], { initialSnapshot: true, resumeAfter: { _data: 'a' } }, /cannot be combined with resumeAfter/],
    ['initialSnapshot with checkpoint.start', [], { initialSnapshot: true, checkpoint: { store, key: 'k', start: new Timestamp({ t: 1, i: 1 }) } }, /cannot be combined with checkpoint.start/],
    ['a string splitLargeEvents', [], { splitLargeEvents: 'true' }, /splitLargeEvents must be a boolean, got "true"/],
  ])('refuses %s', (_name, pipeline, options, message) => {
    expect(() => resolveWatchOptions(pipeline, options)).toThrow(TypeError);
    expect(() => resolveWatchOptions(pipeline, options)).toThrow(message);
  });

  it('a stream constructed without a collection refuses initialSnapshot', () => {
    const server = new FakeServer();
    expect(() => new RxChangeStream(server.open, [], { initialSnapshot: true })).toThrow(/use it on a collection's watch\(\)/);
  });
});

describe('consume() options of issue 17', () => {
  it('resolves transactional and onHandlerError, and refuses what is not', () => {
    expect(resolveConsumeOptions(undefined, 100)).toEqual({ highWaterMark: 100, transactional: undefined, onHandlerError: undefined });
    expect(resolveConsumeOptions({ transactional: true }, 100).transactional).toEqual({});
    expect(resolveConsumeOptions({ transactional: { maxCommitTimeMS: 500 } }, 100).transactional).toEqual({ maxCommitTimeMS: 500 });
    expect(resolveConsumeOptions({ transactional: false }, 100).transactional).toBeUndefined();
    expect(resolveConsumeOptions({ onHandlerError: 'retry' }, 100).onHandlerError).toMatchObject({ then: 'stop', retry: { maxAttempts: 3 } });
    expect(() => resolveConsumeOptions({ transactional: 'yes' as never }, 100)).toThrow(/transactional must be true, false or the transaction's options, got "yes"/);
    expect(() => resolveConsumeOptions({ transactional: null as never }, 100)).toThrow(TypeError);
    expect(() => resolveConsumeOptions({ exactlyOnce: true } as never, 100)).toThrow(/consume\(\) options has no option "exactlyOnce"/);
  });
});

