/**
 * The public surface: what users construct, receive or name in their own
 * types. Everything else (the driver bridge, the member tables, the topology
 * state, the change-stream machinery) is internal and may change.
 */
export { RxMongoClient, type RxMongoClientOptions, type RxDatabaseOptions, type SessionCommentOptions, type DatabaseInfo } from './client/client';
export { Awaitable } from './driver/awaitable';
export { redactConnectionString } from './client/redact';
export { RxDatabase } from './client/database';
export { RxCollection } from './client/collection';
export { RxClientSession } from './client/session';
export { fromDriverCursor, type CursorOwner } from './client/cursor';
export type { WithRxSession, SessionCarrier } from './driver/sessions';
export type { ReadonlyBehaviorSubject, ServerAddress, ServerSnapshot, TopologySnapshot, ErrorSummary } from './topology';
export {
  RxChangeStream,
  replay,
  type ChangeStreamSnapshotDocument,
  type DeadLetter,
  type DeadLetterError,
  type DeadLetterTarget,
  type HandlerErrorPolicy,
  type HandlerRetryOptions,
  type ReplayHandler,
  type ReplayOptions,
  type SnapshotSource,
  type TransactionContext,
  type TransactionalChangeHandler,
  type ChangeStreamStatus,
  type ChangeHandler,
  type CheckpointOptions,
  type CheckpointStart,
  type CloseReason,
  type ConsumeOptions,
  type LeaseOptions,
  type StoreOperation,
  type HistoryLostInfo,
  type HistoryLostPolicy,
  type RetryOptions,
  type RxWatchOptions,
  type ObserveOptions,
  type HeadroomOptions,
  type StreamLag,
  type OplogHeadroom,
  type HeadroomPosition,
  type OplogWindow,
  type OplogEntryTime,
  type StreamMetrics,
} from './change-stream';
// Consumer groups.
export type { GroupOptions, GroupStatus, GroupOperation, RevokeReason } from './change-stream';
export {
  MemoryCheckpointStore,
  FileCheckpointStore,
  CollectionCheckpointStore,
  type CheckpointStore,
  type CheckpointDocument,
  type Lease,
  type LeaseInfo,
  type AcquireOptions,
  type SaveOptions,
} from './checkpoint';
export {
  RxMongoError,
  InvalidNameError,
  ConfigurationError,
  ClientClosedError,
  InvalidOperationError,
  SubscriberOverflowError,
  CheckpointInUseError,
  CheckpointCorruptError,
  DocumentTooLargeError,
  CheckpointLeaseLostError,
  CheckpointTimeoutError,
} from './errors';
