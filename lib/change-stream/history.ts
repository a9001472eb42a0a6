import type { MongoServerError, ResumeToken } from 'mongodb';
import { from, type ObservableInput } from 'rxjs';

/** What the stream receives when the server's history after its position is gone. */
export interface HistoryLostInfo {
  /** The server's error (`ChangeStreamHistoryLost` 286 or `CappedPositionLost` 136), unchanged. */
  readonly error: MongoServerError;
  /** The position that can no longer be resumed from. */
  readonly token: ResumeToken | undefined;
}

/**
 * `'error'`: the stream errors with the server's error. `'restartFromNow'`:
 * the stream reopens at the moment the loss was detected, the events in
 * between are gone. A function: its Observable's values are delivered as
 * changes (they move no checkpoint) — e.g. a re-read of the current state —
 * then the stream reopens at the moment the loss was detected; its error
 * errors the stream. Every occurrence is reported on `status$` and waits a
 * backoff delay, so a persistent loss cannot spin.
 */
export type HistoryLostPolicy<TChange> = 'error' | 'restartFromNow' | ((info: HistoryLostInfo) => ObservableInput<TChange>);

/**
 * Runs a history-lost function and hands its values to `deliver`. `done`
 * settles when its Observable ends or `cancel()` is called.
 *
 * @internal
 */
export function replaceLostHistory<TChange>(
  policy: (info: HistoryLostInfo) => ObservableInput<TChange>,
  info: HistoryLostInfo,
  deliver: (change: TChange) => void,
): { done: Promise<{ failed: boolean; error?: unknown }>; cancel(): void } {
  let cancel = (): void => {};
  const done = new Promise<{ failed: boolean; error?: unknown }>((resolve) => {
    try {
      const subscription = from(policy(info)).subscribe({
        next: deliver,
        error: (error: unknown) => resolve({ failed: true, error }),
        complete: () => resolve({ failed: false }),
      });
      cancel = () => {
        subscription.unsubscribe();
        resolve({ failed: false });
      };
    } catch (error) {
      resolve({ failed: true, error });
    }
  });
  return { done, cancel: () => cancel() };
}
