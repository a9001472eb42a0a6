export { RxMongoClient, type RxMongoClientOptions, type RxDatabaseOptions, type SessionCommentOptions, type DatabaseInfo } from './client/client';
export { RxDatabase, DATABASE_MEMBERS } from './client/database';
export { RxCollection, COLLECTION_MEMBERS } from './client/collection';
export { RxClientSession } from './client/session';
export { fromDriverCursor, type CursorOwner } from './client/cursor';
export type { WithRxSession, SessionCarrier } from './driver/sessions';
export {
  TopologyState,
  type TopologyStateOptions,
  type ReadonlyBehaviorSubject,
  type ServerAddress,
  type ServerSnapshot,
  type TopologySnapshot,
  type ErrorSummary,
} from './topology';
export {
  RxChangeStream,
  type ChangeStreamStatus,
  type ChangeHandler,
  type CheckpointOptions,
  type CloseReason,
  type ConsumeOptions,
  type LeaseOptions,
  type StoreOperation,
  type HistoryLostInfo,
  type HistoryLostPolicy,
  type OpenChangeStream,
  type RetryOptions,
  type RxWatchOptions,
  type StreamOwner,
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
  CheckpointLeaseLostError,
  CheckpointTimeoutError,
} from './errors';
