import type { ClientSession, ResumeToken } from 'mongodb';

/**
 * A consumer's hold on a checkpoint key, handed out by
 * {@link CheckpointStore.acquire}. Every save carries it.
 */
export interface Lease {
  /** The checkpoint key held. */
  readonly key: string;
  /** Who holds it; unique per consumer (rxmongo uses host, pid and a random part). */
  readonly holder: string;
  /**
   * The fencing token: greater than the fence of every earlier lease on the
   * key, in any process. A store refuses saves carrying an older one.
   */
  readonly fence: number;
}

/** Arguments of {@link CheckpointStore.acquire}. */
export interface AcquireOptions {
  /** Who asks; becomes {@link Lease.holder}. */
  holder: string;
  /** How long the lease lasts unless renewed, in ms. */
  ttlMS: number;
}

/** Options of {@link CheckpointStore.save}. */
export interface SaveOptions {
  /**
   * A driver session to write in, so a save can commit in the same
   * transaction as the handler's own writes. Stores that are not MongoDB
   * collections ignore it.
   */
  session?: ClientSession;
}

/** A live lease, as {@link CheckpointStore.leases} lists them. */
export interface LeaseInfo extends Lease {
  /** When it expires unless renewed (by the store's clock). */
  readonly expiresAt: Date;
}

/**
 * Where a change stream keeps its position between runs, under a key naming
 * the consumer, and who may move it: at most one consumer holds a key at a
 * time, whatever the number of processes or machines.
 *
 * The contract, for implementers (Redis, Postgres, …):
 *
 * - **Positions** are opaque BSON values: a resume token, or (for a stream
 *   opened at an operation time before any token existed) a BSON
 *   `Timestamp`. Store them so they load back exactly.
 * - **`load`** returns the position last saved under `key`, `undefined` when
 *   there is none (never saved, or only a lease was taken), and throws
 *   `CheckpointCorruptError` when a record exists that cannot be read
 *   (truncated, missing or null token). Never guess: a silent `undefined`
 *   for a damaged record makes the stream skip changes.
 * - **`acquire`** takes the key for `holder` for `ttlMS`: it succeeds when
 *   nobody holds the key, the lease expired, or `holder` already holds it,
 *   and then returns a lease whose `fence` is greater than any fence handed
 *   out for the key before (monotonic, never reused, even after a crash).
 *   It returns `undefined` while another live holder has the key. Checking
 *   and taking must be one atomic step (compare-and-set).
 * - **`renew`** extends a lease by `ttlMS`; it throws
 *   `CheckpointLeaseLostError` when the stored fence is no longer the
 *   lease's (another consumer took over).
 * - **`save`** replaces the position atomically (after a crash, `load`
 *   returns the previous position or the new one, never a mix) and only if
 *   the stored fence is not newer than `lease.fence`; otherwise it throws
 *   `CheckpointLeaseLostError` and changes nothing. The fence check and the
 *   write must be one atomic step, so a holder paused past its lease (GC,
 *   SIGSTOP) can never move the position backwards.
 * - **`release`** gives the key up if the lease is still current, keeping
 *   the position and the fence; it never throws for a lease already lost.
 * - **Clocks**: expiry is measured by one clock, the store's own where it
 *   has one (a database server's), so the consumers' machines need no
 *   synchronised clocks. A lease is only a hint of who works; the fence is
 *   what keeps the data safe.
 * - **Errors**: rxmongo bounds every call by `checkpoint.timeoutMS` and
 *   retries, with the stream's backoff, errors that are transient: network
 *   and server-selection errors, timeouts, and any error with a `transient`
 *   property set to `true`. Other errors end the stream.
 *
 * rxmongo calls `save` for one lease serially (one in flight at a time),
 * each time with a position at or after the previous one; `renew` may run
 * alongside a save.
 *
 * Motor/driver counterpart: none; both leave persisting `resume_after`
 * tokens, and who may write them, to the application.
 */
export interface CheckpointStore {
  /** The position last saved under `key`, or `undefined` when there is none. */
  load(key: string): Promise<ResumeToken | undefined>;
  /** Takes `key` for `options.holder`; `undefined` while another live holder has it. */
  acquire(key: string, options: AcquireOptions): Promise<Lease | undefined>;
  /** Extends `lease` by `ttlMS` ms; `CheckpointLeaseLostError` when it was taken over. */
  renew(lease: Lease, ttlMS: number): Promise<Lease>;
  /** Replaces the position under `lease.key`; `CheckpointLeaseLostError` when the fence moved on. */
  save(lease: Lease, token: ResumeToken, options?: SaveOptions): Promise<void>;
  /** Gives `lease` up, keeping the position; a no-op for a lease already lost. */
  release(lease: Lease): Promise<void>;
  /**
   * The live leases on keys starting with `prefix` (e.g. `billing/` for the
   * partitions `billing/p0`, `billing/p1`, …). Optional; consumer groups
   * need it to see the other members.
   */
  leases?(prefix: string): Promise<LeaseInfo[]>;
}

/** Throws `TypeError` unless `key` is a non-empty string. */
export function assertCheckpointKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`a checkpoint key must be a non-empty string, got ${JSON.stringify(key) ?? String(key)}`);
  }
}

/** Throws `TypeError` unless `lease` looks like a {@link Lease}. */
export function assertLease(lease: unknown): asserts lease is Lease {
  const l = lease as Partial<Lease> | null;
  if (l === null || typeof l !== 'object' || typeof l.holder !== 'string' || !Number.isSafeInteger(l.fence)) {
    throw new TypeError('expected a Lease from acquire() (an object with key, holder and an integer fence)');
  }
  assertCheckpointKey(l.key);
}

/** Throws `TypeError` for an empty position (`null`/`undefined` are never saved). */
export function assertPosition(token: unknown): void {
  if (token == null) throw new TypeError('a checkpoint position cannot be null or undefined');
}

/** Throws `RangeError` unless `ttlMS` is a whole number of ms a timer can hold. */
export function assertTtl(ttlMS: unknown): asserts ttlMS is number {
  if (typeof ttlMS !== 'number' || !Number.isInteger(ttlMS) || ttlMS < 1 || ttlMS > MAX_TIMER_MS) {
    throw new RangeError(`lease ttlMS must be an integer from 1 to ${MAX_TIMER_MS}, got ${String(ttlMS)}`);
  }
}

/** The longest delay a Node.js timer honours (2^31 − 1 ms); longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
