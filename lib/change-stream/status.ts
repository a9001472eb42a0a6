import type { MongoServerError, ResumeToken } from 'mongodb';

/**
 * What happened to an `RxChangeStream`, on its `status$`. Each occurrence is
 * reported exactly once, when it has happened (not when it is attempted).
 * A "subscription" is the shared one behind all plain subscribers, or one
 * `consume()`:
 *
 * - `opened`: the subscription has its server cursor (once per
 *   subscription); `token` is the position it starts from, if known.
 * - `retrying`: an error the driver could not resume from ended the cursor;
 *   restart number `attempt` follows after `delayMS`.
 * - `resumed`: that restart succeeded (the new cursor is open) after
 *   `attempt` attempts, `error` being what made it necessary.
 * - `checkpointed`: `token` was saved to the checkpoint store under `key`.
 * - `historyLost`: the server no longer has the history after `token`
 *   (`ChangeStreamHistoryLost`, code 286); `policy` says what follows.
 * - `invalidated`: an invalidate event arrived (collection dropped or
 *   renamed, database dropped); `restarting` says whether the stream goes on
 *   (the new cursor is not reported again).
 * - `closed`: the subscription ended and released its cursor, after its
 *   last checkpoint save; exactly once after each `opened`. `error` is set
 *   when it failed, `checkpointError` when that last save did. A
 *   subscription that fails before its cursor opens reports neither (its
 *   subscribers get the error).
 *
 * So `opened` minus `closed` is the number of server cursors the stream
 * holds. The driver's own transparent resumes (one per resumable error) are
 * not restarts and are not reported.
 */
export type ChangeStreamStatus =
  | { readonly type: 'opened'; readonly token: ResumeToken | undefined }
  | { readonly type: 'retrying'; readonly attempt: number; readonly error: unknown; readonly delayMS: number }
  | { readonly type: 'resumed'; readonly attempt: number; readonly error: unknown; readonly token: ResumeToken | undefined }
  | { readonly type: 'checkpointed'; readonly key: string; readonly token: ResumeToken }
  | {
      readonly type: 'historyLost';
      readonly error: MongoServerError;
      readonly token: ResumeToken | undefined;
      readonly policy: 'error' | 'restartFromNow' | 'function';
    }
  | { readonly type: 'invalidated'; readonly token: ResumeToken | undefined; readonly restarting: boolean }
  | {
      readonly type: 'closed';
      readonly reason: 'unsubscribed' | 'completed' | 'error';
      readonly error?: unknown;
      readonly checkpointError?: unknown;
    };
