/**
 * A scripted stand-in for the server side of driver change streams, for unit
 * specs: an event log with resume tokens, `FakeChangeStream`s that read it
 * the way the driver's `ChangeStream` does in iterator mode (`tryNext()`,
 * `bufferedCount()`, `resumeToken` tracking the post-batch token, the
 * `resumeTokenChanged` event on the aggregate reply), and fault injection of
 * the errors the driver surfaces.
 */
import { EventEmitter } from 'node:events';
import { MongoServerError, Timestamp, type ChangeStream, type ChangeStreamOptions, type Document } from 'mongodb';
import type { OpenChangeStream } from '../../../lib/change-stream';

export interface FakeChange extends Document {
  _id: { _data: string };
  operationType: string;
  n: number;
}

interface LogEntry {
  change: FakeChange;
  /** False for entries the pipeline filters out (they still move the post-batch token). */
  matches: boolean;
}

type Command = 'aggregate' | 'getMore';

/** Server tokens are ~100 hex digits; the fake's are as long, so what keeping one costs is as real. */
const TOKEN_TAIL = '0'.repeat(91);

export function token(index: number): { _data: string } {
  return { _data: `T${String(index).padStart(8, '0')}${TOKEN_TAIL}` };
}

function indexOf(tok: unknown): number {
  const data = (tok as { _data?: string } | undefined)?._data;
  if (typeof data !== 'string' || !data.startsWith('T')) throw new Error(`fake server: bad token ${JSON.stringify(tok)}`);
  return Number(data.slice(1, 9));
}

export class FakeServer {
  /** log[i] has token(i + 1); position p means "after the first p entries". */
  readonly log: LogEntry[] = [];
  readonly opened: FakeChangeStream[] = [];
  readonly commands: Array<{ name: Command | 'killCursors'; stream: FakeChangeStream }> = [];
  /** Entries before this index are gone from history. */
  historyStart = 0;
  /** How long an empty getMore waits for news (ms). */
  maxAwaitMS = 15;
  /** Events handed to clients in batches, over all streams. */
  fetched = 0;
  /** Called after each batch with events reaches a client. */
  onBatch: () => void = () => {};
  private readonly failures: Array<{ command: Command; error: Error; times: number }> = [];
  private readonly waiters = new Set<() => void>();

  /** Appends changes (`matches: false` ones are filtered out by the stream's pipeline). */
  write(count: number, options: { matches?: boolean; operationType?: string } = {}): void {
    for (let i = 0; i < count; i += 1) {
      const n = this.log.length + 1;
      this.log.push({
        // Cloned so its strings are flat now, not when first read (that would pass for memory a reader keeps).
        change: structuredClone({ _id: token(n), operationType: options.operationType ?? 'insert', n }),
        matches: options.matches ?? true,
      });
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** The next `times` commands named `command` fail with `error`. */
  fail(command: Command, error: Error, times = 1): void {
    this.failures.push({ command, error, times });
  }

  /** Opener to hand to `RxChangeStream`. */
  readonly open: OpenChangeStream<FakeChange> = (pipeline, options) => {
    const stream = new FakeChangeStream(this, pipeline, options);
    this.opened.push(stream);
    return stream as unknown as ChangeStream<Document, FakeChange>;
  };

  count(name: Command | 'killCursors'): number {
    return this.commands.filter((c) => c.name === name).length;
  }

  /** Streams opened and not closed. */
  get live(): FakeChangeStream[] {
    return this.opened.filter((s) => !s.closed);
  }

  run(name: Command, stream: FakeChangeStream): void {
    this.commands.push({ name, stream });
    const failure = this.failures.find((f) => f.command === name);
    if (failure !== undefined) {
      failure.times -= 1;
      if (failure.times <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
      throw failure.error;
    }
  }

  /** Resolves when something is written or `ms` passed. */
  news(ms: number, stop: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      void stop.then(done);
    });
  }
}

export class FakeChangeStream extends EventEmitter {
  resumeToken: unknown = null;
  closed = false;
  /** Index into the log after which this cursor reads. */
  position: number;
  /** The largest number of events this stream held in its buffer at once. */
  maxBuffered = 0;
  private initialized = false;
  private buffer: FakeChange[] = [];
  private postBatch: unknown = null;
  private signalClose!: () => void;
  private readonly closing = new Promise<void>((resolve) => (this.signalClose = resolve));
  private reading = false;

  constructor(
    private readonly server: FakeServer,
    readonly pipeline: Document[],
    readonly options: ChangeStreamOptions,
  ) {
    super();
    const start = options.startAfter ?? options.resumeAfter;
    if (start != null) this.position = indexOf(start);
    else if (options.startAtOperationTime != null) this.position = options.startAtOperationTime.low;
    else this.position = -1; // "now", fixed by the aggregate
  }

  bufferedCount(): number {
    return this.buffer.length;
  }

  async tryNext(): Promise<FakeChange | null> {
    if (this.reading) throw new Error('fake: concurrent tryNext');
    if (this.closed) throw new Error('ChangeStream is closed');
    this.reading = true;
    try {
      if (this.buffer.length > 0) return this.take();
      await Promise.resolve();
      if (!this.initialized) {
        this.check();
        this.server.run('aggregate', this);
        if (this.position < 0) this.position = this.server.log.length;
        if (this.position < this.server.historyStart) {
          throw new MongoServerError({
            message: 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
            code: 286,
            codeName: 'ChangeStreamHistoryLost',
            operationTime: new Timestamp({ t: 0, i: this.server.log.length }),
          });
        }
        this.initialized = true;
        this.postBatch = token(this.position);
        this.resumeToken = this.postBatch;
        this.emit('resumeTokenChanged', this.resumeToken);
      }
      await Promise.resolve();
      this.check();
      if (this.position >= this.server.log.length) await this.server.news(this.server.maxAwaitMS, this.closing);
      this.check();
      this.server.run('getMore', this);
      const batchSize = this.options.batchSize ?? 101;
      const batch: FakeChange[] = [];
      while (this.position < this.server.log.length && batch.length < batchSize) {
        const entry = this.server.log[this.position];
        this.position += 1;
        // Each batch is decoded afresh from the wire, as the driver does: nothing shared with the log.
        if (entry.matches) batch.push(structuredClone(entry.change));
      }
      this.postBatch = token(this.position);
      if (batch.length === 0) {
        this.cache(this.postBatch);
        return null;
      }
      this.buffer = batch;
      this.maxBuffered = Math.max(this.maxBuffered, batch.length);
      this.server.fetched += batch.length;
      this.server.onBatch();
      return this.take();
    } finally {
      this.reading = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signalClose();
    if (this.initialized) this.server.commands.push({ name: 'killCursors', stream: this });
  }

  private check(): void {
    if (this.closed) throw new Error('ChangeStream is closed');
  }

  private take(): FakeChange {
    const change = this.buffer.shift() as FakeChange;
    this.cache(this.buffer.length === 0 ? this.postBatch : change._id);
    return change;
  }

  /** As the driver does: every token cached (each change returned, each empty batch) is announced. */
  private cache(token: unknown): void {
    this.resumeToken = token;
    this.emit('resumeTokenChanged', token);
  }
}
