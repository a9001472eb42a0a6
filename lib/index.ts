export { RxMongoClient, type RxMongoClientOptions, type RxDatabaseOptions, type SessionCommentOptions, type DatabaseInfo } from './client';
export { RxDatabase, DATABASE_MEMBERS } from './database';
export { RxCollection, COLLECTION_MEMBERS } from './collection';
export { RxClientSession } from './session';
export { fromDriverCursor, type CursorOwner } from './cursor';
export type { WithRxSession } from './internal/mapping';
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
  type ConsumeOptions,
  type HistoryLostInfo,
  type HistoryLostPolicy,
  type OpenChangeStream,
  type RetryOptions,
  type RxWatchOptions,
  type StreamOwner,
} from './change-stream';
export {
  MemoryCheckpointStore,
  FileCheckpointStore,
  CollectionCheckpointStore,
  type CheckpointStore,
  type CheckpointDocument,
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
} from './errors';
