/**
 * Fakes for the bridge and mapping unit specs: just enough of the driver's
 * cursor, session and client for the code under test, with counters.
 */
import { EventEmitter } from 'node:events';
import type { AbstractCursor, ClientSession, MongoClient } from 'mongodb';
import type { SchedulerLike } from 'rxjs';
import { ClientContext } from '../../../lib/driver/context';

/** A promise with its resolve/reject in hand. */
export class Deferred<T = void> {
  resolve!: (value: T) => void;
  reject!: (reason: unknown) => void;
  readonly promise = new Promise<T>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
}

/** Lets every queued promise continuation run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The driver client as the context sees it: events, `connect`/`close`
 * counters, and a topology whose servers report `maxBsonObjectSize`.
 */
export class FakeDriverClient extends EventEmitter {
  closeCalls = 0;
  connectCalls = 0;
  connectError: Error | undefined;
  topology: { description: { servers: Map<string, { maxBsonObjectSize: number | null }> } } | undefined;

  constructor(maxBsonObjectSize?: number) {
    super();
    if (maxBsonObjectSize !== undefined) {
      this.topology = { description: { servers: new Map([['127.0.0.1:1', { maxBsonObjectSize }]]) } };
    }
  }

  async connect(): Promise<this> {
    this.connectCalls += 1;
    if (this.connectError) throw this.connectError;
    return this;
  }

  async close(): Promise<void> {
    this.closeCalls += 1;
  }
}

export function fakeContext(
  scheduler?: SchedulerLike,
  options: { maxBsonObjectSize?: number } = {},
): { context: ClientContext; driver: FakeDriverClient } {
  const driver = new FakeDriverClient(options.maxBsonObjectSize);
  return { context: new ClientContext(driver as unknown as MongoClient, scheduler), driver };
}

/**
 * A cursor serving `batches`, one per fetch. With `gated`, each fetch waits
 * for the test to call `release()`.
 */
export class FakeCursor<T> {
  fetches = 0;
  closeCalls = 0;
  /** Whether a fetch was in flight when `close()` was called. */
  closedWhileFetching = false;
  private buffer: T[] = [];
  private inFlight = false;
  private gate: Deferred | undefined;

  constructor(
    private readonly batches: T[][],
    private readonly options: { gated?: boolean; failOnFetch?: number; error?: Error } = {},
  ) {}

  async next(): Promise<T | null> {
    if (this.buffer.length > 0) return this.buffer.shift()!;
    if (this.batches.length === 0) return null;
    this.fetches += 1;
    this.inFlight = true;
    try {
      if (this.options.gated) {
        this.gate = new Deferred();
        await this.gate.promise;
      } else {
        await Promise.resolve();
      }
      if (this.options.failOnFetch === this.fetches) throw this.options.error ?? new Error('fetch failed');
      this.buffer = this.batches.shift()!;
      return this.buffer.shift() ?? null;
    } finally {
      this.inFlight = false;
    }
  }

  readBufferedDocuments(): T[] {
    const docs = this.buffer;
    this.buffer = [];
    return docs;
  }

  async close(): Promise<void> {
    this.closeCalls += 1;
    if (this.inFlight) this.closedWhileFetching = true;
  }

  /** Lets the gated fetch in flight complete. */
  release(): void {
    this.gate?.resolve();
  }

  asCursor(): AbstractCursor<T> {
    return this as unknown as AbstractCursor<T>;
  }
}

/**
 * A session whose `withTransaction` follows the driver's outline: run the
 * callback, abort on failure, retry on a `TransientTransactionError` label,
 * else commit.
 */
export class FakeSession {
  attempts = 0;
  commits = 0;
  aborts = 0;
  /** What each failed attempt rejected with. */
  readonly attemptErrors: unknown[] = [];
  commitGate: Deferred | undefined;

  async withTransaction<T>(fn: (session: ClientSession) => Promise<T>): Promise<T> {
    for (;;) {
      this.attempts += 1;
      try {
        const result = await fn(this as unknown as ClientSession);
        await this.commitGate?.promise;
        this.commits += 1;
        return result;
      } catch (err) {
        this.attemptErrors.push(err);
        this.aborts += 1;
        if ((err as { errorLabels?: string[] }).errorLabels?.includes('TransientTransactionError')) continue;
        throw err;
      }
    }
  }

  asSession(): ClientSession {
    return this as unknown as ClientSession;
  }
}
