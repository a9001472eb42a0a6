import {
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  type Timestamp,
} from 'mongodb';

/** `ChangeStreamHistoryLost`: the resume point has left the oplog. */
export const HISTORY_LOST_CODE = 286;

/**
 * Server codes after which reopening the stream later can succeed: the
 * server or its role changed under the cursor. The driver resumes on these
 * once; when that fails the error surfaces and the stream restarts with
 * backoff.
 */
const RESTARTABLE_CODES: ReadonlySet<number> = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  43, // CursorNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  133, // FailedToSatisfyReadPreference
  150, // StaleEpoch
  189, // PrimarySteppedDown
  234, // RetryChangeStream
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13388, // StaleConfig
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  63, // StaleShardVersion
]);

/** What the stream does after an error surfaced by the driver (or a store). */
export type ErrorKind = 'transient' | 'historyLost' | 'fatal';

/**
 * Sorts an error: `historyLost` for code 286, `transient` for network,
 * server-selection and timeout errors and server errors that are labelled
 * resumable or carry a restartable code, `fatal` for everything else (auth,
 * bad pipeline, invalid token, rxmongo's own errors, non-Mongo errors).
 */
export function classifyError(error: unknown): ErrorKind {
  if (!(error instanceof MongoError)) return 'fatal';
  if (error.code === HISTORY_LOST_CODE) return 'historyLost';
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError
  ) {
    return 'transient';
  }
  if (error.hasErrorLabel(MongoErrorLabel.ResumableChangeStreamError)) return 'transient';
  return typeof error.code === 'number' && RESTARTABLE_CODES.has(error.code) ? 'transient' : 'fatal';
}

/** The server's `operationTime` on a failed reply, when it sent one. */
export function operationTimeOf(error: unknown): Timestamp | undefined {
  if (!(error instanceof MongoServerError)) return undefined;
  const time: unknown = error.operationTime;
  return time !== null && typeof time === 'object' && (time as { _bsontype?: unknown })._bsontype === 'Timestamp'
    ? (time as Timestamp)
    : undefined;
}
