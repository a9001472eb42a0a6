import type { ResumeToken } from 'mongodb';

/**
 * Where a change stream keeps its resume token between runs, under a key
 * naming the consumer. rxmongo calls `load` once when a stream opens and
 * `save` serially (never two saves of one key at once from one stream), each
 * time with a token at or after the previous one.
 *
 * An implementation must make `save` atomic: after a crash, `load` returns
 * either the previous token or the new one, never a mix. A rejected `save`
 * leaves the previous token in place; rxmongo retries it when the error is
 * transient (network, server selection) and errors the stream otherwise.
 *
 * Motor/driver counterpart: none; both leave persisting `resume_after`
 * tokens to the application.
 */
export interface CheckpointStore {
  /** The token last saved under `key`, or `undefined` when there is none. */
  load(key: string): Promise<ResumeToken | undefined>;
  /** Replaces the token under `key`. */
  save(key: string, token: ResumeToken): Promise<void>;
}

/** Throws `TypeError` unless `key` is a non-empty string. */
export function assertCheckpointKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`a checkpoint key must be a non-empty string, got ${JSON.stringify(key) ?? String(key)}`);
  }
}
