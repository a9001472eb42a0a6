import type { ResumeToken } from 'mongodb';
import { assertCheckpointKey, type CheckpointStore } from './store';

/**
 * A {@link CheckpointStore} in this process's memory: survives re-subscribing
 * and restarting streams, not restarting the process. For tests, and for
 * streams that only need to bridge reconnects.
 *
 * @example
 * const store = new MemoryCheckpointStore();
 * orders.watch([], { checkpoint: { store, key: 'dashboard' } }).subscribe(render);
 */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly tokens = new Map<string, ResumeToken>();

  async load(key: string): Promise<ResumeToken | undefined> {
    assertCheckpointKey(key);
    return this.tokens.get(key);
  }

  async save(key: string, token: ResumeToken): Promise<void> {
    assertCheckpointKey(key);
    if (token == null) throw new TypeError('a checkpoint token cannot be null or undefined');
    this.tokens.set(key, token);
  }
}
