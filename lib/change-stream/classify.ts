import {
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type Timestamp,
} from 'mongodb';
import { CheckpointTimeoutError } from '../errors';

/**
 * The history after the position is gone: `ChangeStreamHistoryLost` (286)
 * when a stream opens from it, `CappedPositionLost` (136) when an open
 * cursor falls off the oplog.
 */
const HISTORY_LOST_CODES: ReadonlySet<number> = new Set([286, 136]);

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
 * Sorts an error: `historyLost` for codes 286 and 136, `transient` for
 * network, server-selection and timeout errors, a topology closed after a
 * failed first connection (the client may connect later), and server errors
 * that are labelled resumable or carry a restartable code, `fatal` for
 * everything else (auth, bad pipeline, invalid token, rxmongo's own errors,
 * non-Mongo errors).
 */
export function classifyError(error: unknown): ErrorKind {
  if (!(error instanceof MongoError)) return 'fatal';
  if (typeof error.code === 'number' && HISTORY_LOST_CODES.has(error.code)) return 'historyLost';
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError ||
    error instanceof MongoTopologyClosedError
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

/** Error codes of Node.js system calls that can succeed when tried again. */
const TRANSIENT_SYSTEM_CODES: ReadonlySet<string> = new Set([
  'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN',
]);

/**
 * Whether a checkpoint store's error is worth retrying: a timeout, a
 * transient driver error, a transient system call error, or any error that
 * says `transient: true` (how users' own stores can ask for a retry).
 */
export function isTransientStoreError(error: unknown): boolean {
  if (error instanceof CheckpointTimeoutError) return true;
  if (error instanceof MongoError) return classifyError(error) === 'transient';
  if (error === null || typeof error !== 'object') return false;
  const { transient, code } = error as { transient?: unknown; code?: unknown };
  return transient === true || (typeof code === 'string' && TRANSIENT_SYSTEM_CODES.has(code));
}
