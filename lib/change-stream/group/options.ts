import type { CheckpointStore } from '../../checkpoint/store';
import { describe } from '../../driver/names';

/**
 * The `group` option of `watch()`: run this consumer as one member of a
 * group sharing `checkpoint.key`, splitting the stream's changes into
 * `partitions` partitions by a hash of each document's `_id`. Consume it
 * with `consume()` in every member process.
 */
export interface GroupOptions {
  /**
   * How many partitions the changes are split into, 1 to 1024: the most
   * members that can share the work, and the unit of ownership, ordering and
   * checkpointing. Fixed for the life of the checkpoint key (members asking
   * for another count fail with `ConfigurationError`).
   */
  partitions: number;
  /**
   * How long a member's announcement and its partitions' leases last
   * without renewal, in ms (default 10 000). Renewals, membership polls and
   * standby polls run every third of it. A member that dies loses its
   * partitions within about this long plus one poll.
   */
  leaseMS?: number;
}

/** The group options, validated, with defaults. @internal */
export interface ResolvedGroup {
  partitions: number;
  leaseMS: number;
}

/** The most partitions a group may have: enough for any number of members a stream can feed. */
const MAX_PARTITIONS = 1024;
const DEFAULT_LEASE_MS = 10_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const KEYS = ['partitions', 'leaseMS'];

/**
 * Validates `watch()`'s `group` option against the `checkpoint` option it
 * needs (a store that can list leases, no `checkpoint.lease`: the group
 * sets its partitions' leases). `TypeError` for a wrong type, an unknown
 * key or a missing piece; `RangeError` for a number out of range.
 * @internal
 */
export function resolveGroup(value: unknown, checkpoint: unknown): ResolvedGroup | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`watch() option group must be an object, got ${describe(value)}`);
  }
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) {
    throw new TypeError(`watch() option group has unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${KEYS.join(', ')})`);
  }
  const partitions = whole('group.partitions', given.partitions, undefined, MAX_PARTITIONS);
  const leaseMS = whole('group.leaseMS', given.leaseMS, DEFAULT_LEASE_MS, MAX_TIMER_MS);

  const options = checkpoint as { store?: Partial<CheckpointStore>; lease?: unknown } | null | undefined;
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new TypeError('watch() option group needs the checkpoint option: the store and key its members share');
  }
  if (options.store !== null && typeof options.store === 'object' && typeof options.store.leases !== 'function') {
    throw new TypeError(`watch() option group needs checkpoint.store to list leases, to see the other members; ${describe(options.store)} has no leases(prefix) method`);
  }
  if (options.lease !== undefined) {
    throw new TypeError('watch() options group and checkpoint.lease cannot be combined: group.leaseMS sets the leases of a group');
  }
  return { partitions, leaseMS };
}

/** An integer from 1 to `max`; `fallback` when undefined (required when `fallback` is). */
function whole(name: string, value: unknown, fallback: number | undefined, max: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be ${fallback === undefined ? 'given as ' : ''}an integer from 1 to ${max}, got ${Number.isNaN(value) ? 'NaN' : describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  return value;
}
