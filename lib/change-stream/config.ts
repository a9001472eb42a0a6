import type { Document, MongoClient, ResumeToken } from 'mongodb';
import type { RunObserver } from './observe/runs';
import type { OpenChangeStream } from './reader';
import type { ResolvedOptions } from './options';
import type { SnapshotSource } from './snapshot';
import type { ChangeStreamStatus } from './status';

/**
 * What owns a stream and closes: an rxmongo client's context. Its `close()`
 * runs the registered hooks (and waits for them) before closing the driver,
 * so a stream can kill its cursor, save its checkpoint and complete first.
 *
 * Public because the `RxChangeStream` constructor takes one; `watch()`
 * passes its client's.
 *
 * Motor/driver counterpart: none.
 */
export interface StreamOwner {
  /** True once the owner started closing: new subscriptions error with `ClientClosedError`. */
  readonly closed: boolean;
  /** Registers teardown run (and awaited) before the owner closes; returns an unregister function. */
  onClose(hook: () => void | Promise<void>): () => void;
  /**
   * The driver client the stream reads with, when known: `headroom$` reads
   * the oplog window through it, transactional `consume()` checks its store
   * against it.
   */
  readonly driver?: MongoClient;
}

/** Options of one `RxChangeStream`, validated and with defaults applied, and its wiring. @internal */
export interface StreamConfig<TChange extends Document> extends ResolvedOptions<TChange> {
  open: OpenChangeStream<TChange>;
  owner: StreamOwner | undefined;
  report(status: ChangeStreamStatus): void;
  /** The newest position any subscription of the stream has acknowledged. */
  moved(token: ResumeToken): void;
  /** Watches the stream's runs for `lag$`, `headroom$` and `metrics$`. */
  observer?: RunObserver;
  /** The collection to read first, with `initialSnapshot`. */
  snapshotSource?: SnapshotSource;
}
