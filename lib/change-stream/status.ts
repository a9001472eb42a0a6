import type { MongoServerError, ResumeToken } from 'mongodb';
// Consumer groups (./group) report on the same status$.
import type { GroupStatus } from './group/status';
import type { OplogHeadroom } from './observe/headroom';

/** A checkpoint store call, as status reports name it. */
export type StoreOperation = 'load' | 'acquire' | 'renew' | 'save' | 'release';

/** Why a subscription ended. */
export type CloseReason = 'unsubscribed' | 'completed' | 'clientClosed' | 'error';

/**
 * What happened to an `RxChangeStream`, on its `status$`. Each occurrence is
 * reported exactly once, when it has happened (not when it is attempted).
 * A "subscription" is the shared one behind all plain subscribers, or one
 * `consume()`:
 *
 * - `standby`: another consumer holds the checkpoint key's lease; this one
 *   waits (once per wait).
 * - `acquired`: the subscription holds the key's lease, with `fence`.
 * - `opened`: the subscription has its server cursor and, with a
 *   checkpoint, its starting position is stored (once per subscription);
 *   `token` is that position, if known.
 * - `retrying`: an error the driver could not resume from ended the cursor;
 *   restart number `attempt` follows after `delayMS`.
 * - `resumed`: that restart succeeded (the new cursor is open) after
 *   `attempt` attempts, `error` being what made it necessary.
 * - `checkpointed`: `token` was saved to the checkpoint store under `key`.
 * - `checkpointError`: a store call failed (or timed out) and is retried
 *   after `delayMS`; a failure that is not retried ends the subscription.
 * - `leaseLost`: another consumer took the key over (or the lease could not
 *   be renewed in time); the subscription stops delivering and errors with
 *   `error`.
 * - `historyLost`: the server no longer has the history after `token`
 *   (`ChangeStreamHistoryLost` 286, `CappedPositionLost` 136); `policy`
 *   says what follows.
 * - `invalidated`: an invalidate event arrived (collection dropped or
 *   renamed, database dropped); `restarting` says whether the stream goes on
 *   (the new cursor is not reported again).
 * - `headroomLow`: the position a restart would resume from (the stored
 *   checkpoint, or the stream's own) is less than `marginMS` from falling
 *   off the oplog (`headroom$`), or already has; once each time it drops
 *   below the margin. Reported while headroom is watched: while `headroom$`
 *   has subscribers, and with the `headroom` option while the stream runs.
 * - `handlerError`: a `consume()` handler failed on attempt `attempt`
 *   for a change and `onHandlerError` goes on: `action` `retry` runs it
 *   again after `delayMS`, `park` writes the change to the dead letters
 *   and skips it. (A handler error that stops the subscription is
 *   reported by `closed`.)
 * - `closed`: the subscription ended, released its cursor, saved its last
 *   position and gave its lease up; exactly once after each `opened`.
 *   `reason` says why (`clientClosed`: its client closed; subscribers then
 *   complete). `error` is set when it failed, `checkpointError` when that
 *   last save did. A subscription that fails before its cursor opens
 *   reports neither (its subscribers get the error).
 *
 * So `opened` minus `closed` is the number of server cursors the stream
 * holds. The driver's own transparent resumes (one per resumable error) are
 * not restarts and are not reported.
 */
export type ChangeStreamStatus =
  | { readonly type: 'standby'; readonly key: string }
  | { readonly type: 'acquired'; readonly key: string; readonly fence: number }
  | { readonly type: 'opened'; readonly token: ResumeToken | undefined }
  | { readonly type: 'retrying'; readonly attempt: number; readonly error: unknown; readonly delayMS: number }
  | { readonly type: 'resumed'; readonly attempt: number; readonly error: unknown; readonly token: ResumeToken | undefined }
  | { readonly type: 'checkpointed'; readonly key: string; readonly token: ResumeToken }
  | {
      readonly type: 'checkpointError';
      readonly key: string;
      readonly operation: StoreOperation;
      readonly attempt: number;
      readonly error: unknown;
      readonly delayMS: number;
    }
  | { readonly type: 'leaseLost'; readonly key: string; readonly error: unknown }
  | {
      readonly type: 'historyLost';
      readonly error: MongoServerError;
      readonly token: ResumeToken | undefined;
      readonly policy: 'error' | 'restartFromNow' | 'function';
    }
  | { readonly type: 'invalidated'; readonly token: ResumeToken | undefined; readonly restarting: boolean }
  | { readonly type: 'headroomLow'; readonly headroomMS: number; readonly marginMS: number; readonly headroom: OplogHeadroom }
  | {
      readonly type: 'handlerError';
      readonly error: unknown;
      readonly attempt: number;
      readonly action: 'retry' | 'park';
      readonly delayMS?: number;
    }
  | {
      readonly type: 'closed';
      readonly reason: CloseReason;
      readonly error?: unknown;
      readonly checkpointError?: unknown;
    }
  | GroupStatus;
