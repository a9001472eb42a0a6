/**
 * The wait of an awaitData getMore with nothing to return, as tailable
 * cursors and change streams share it: it ends at the store's next write or
 * after its time, whichever comes first; a killed cursor fails the waiting
 * getMore with CursorKilled, as mongod does, and so does a killOp or a
 * disconnect (the getMore's abort signal).
 */
import { CommandError } from './errors';
import { checkInterrupted } from './operations';
import type { Store } from './store';

/** mongod's wait for an awaitData getMore that names no maxTimeMS. */
export const DEFAULT_AWAIT_MS = 1000;

/** One cursor's awaitData wait; see the file comment. */
export class AwaitData {
  private killed = false;
  private wake?: () => void;

  constructor(private readonly store: Store) {}

  /** Waits up to `ms` for a write; throws when the cursor was killed or the getMore interrupted meanwhile. */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.store.off('oplog', done);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.store.on('oplog', done);
      signal?.addEventListener('abort', done);
      this.wake = done;
    });
    if (this.killed) throw new CommandError('CursorKilled', 'operation was interrupted because the cursor was killed');
    checkInterrupted(signal);
  }

  /** The cursor is killed: a waiting getMore ends now and fails. */
  kill(): void {
    this.killed = true;
    this.wake?.();
  }
}
