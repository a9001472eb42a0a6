import type { ChangeStreamOptions, Document, ResumeToken } from 'mongodb';
import type { SchedulerLike } from 'rxjs';
import type { CheckpointStore } from '../checkpoint/store';
import type { RetryOptions } from './backoff';
import type { CheckpointLease } from './lease';
import type { HistoryLostPolicy, OpenChangeStream } from './reader';
import type { ChangeStreamStatus } from './status';

/**
 * What owns a stream and closes: an rxmongo client's context. Its `close()`
 * runs the registered hooks (and waits for them) before closing the driver,
 * so a stream can kill its cursor and save its checkpoint first.
 *
 * Motor/driver counterpart: none.
 */
export interface StreamOwner {
  /** Registers teardown run (and awaited) before the owner closes; returns an unregister function. */
  onClose(hook: () => void | Promise<void>): () => void;
}

/** Options of one `RxChangeStream`, validated and with defaults applied. */
export interface StreamConfig<TChange extends Document> {
  open: OpenChangeStream<TChange>;
  pipeline: Document[];
  driverOptions: ChangeStreamOptions;
  checkpoint: { store: CheckpointStore; key: string; events: number; ms: number; lease: CheckpointLease } | undefined;
  linger: number;
  highWaterMark: number;
  bufferSize: number;
  retry: RetryOptions;
  onHistoryLost: HistoryLostPolicy<TChange>;
  onInvalidate: 'complete' | 'restart';
  scheduler: SchedulerLike;
  owner: StreamOwner | undefined;
  report(status: ChangeStreamStatus): void;
  /** The newest position any subscription of the stream has acknowledged. */
  moved(token: ResumeToken): void;
}
