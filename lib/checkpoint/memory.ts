import { performance } from 'node:perf_hooks';
import type { ResumeToken } from 'mongodb';
import { CheckpointLeaseLostError } from '../errors';
import {
  assertCheckpointKey,
  assertLease,
  assertPosition,
  assertTtl,
  type AcquireOptions,
  type CheckpointStore,
  type Lease,
  type LeaseInfo,
} from './store';

interface Entry {
  token?: ResumeToken;
  fence: number;
  holder: string | undefined;
  /** `performance.now()` time the lease ends; a monotonic clock, immune to wall-clock jumps. */
  expiresAt: number;
}

/**
 * A {@link CheckpointStore} in this process's memory: survives re-subscribing
 * and restarting streams, not restarting the process. Leases and fences work
 * as in the other stores, between the consumers of this process. For tests,
 * and for streams that only need to bridge reconnects.
 *
 * @example
 * const store = new MemoryCheckpointStore();
 * orders.watch([], { checkpoint: { store, key: 'dashboard' } }).subscribe(render);
 */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly entries = new Map<string, Entry>();

  async load(key: string): Promise<ResumeToken | undefined> {
    assertCheckpointKey(key);
    return this.entries.get(key)?.token;
  }

  async acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    assertCheckpointKey(key);
    assertTtl(options?.ttlMS);
    const { holder, ttlMS } = options;
    if (typeof holder !== 'string' || holder.length === 0) throw new TypeError('acquire() needs a holder (a non-empty string)');
    const now = performance.now();
    const entry = this.entries.get(key) ?? { fence: 0, holder: undefined, expiresAt: 0 };
    if (entry.holder !== undefined && entry.holder !== holder && entry.expiresAt > now) return undefined;
    entry.fence += 1;
    entry.holder = holder;
    entry.expiresAt = now + ttlMS;
    this.entries.set(key, entry);
    return { key, holder, fence: entry.fence };
  }

  async renew(lease: Lease, ttlMS: number): Promise<Lease> {
    assertLease(lease);
    assertTtl(ttlMS);
    this.current(lease).expiresAt = performance.now() + ttlMS;
    return lease;
  }

  async save(lease: Lease, token: ResumeToken): Promise<void> {
    assertLease(lease);
    assertPosition(token);
    this.current(lease).token = token;
  }

  async release(lease: Lease): Promise<void> {
    assertLease(lease);
    const entry = this.entries.get(lease.key);
    if (entry === undefined || entry.fence !== lease.fence || entry.holder !== lease.holder) return;
    entry.holder = undefined;
    entry.expiresAt = 0;
  }

  async leases(prefix: string): Promise<LeaseInfo[]> {
    const now = performance.now();
    const live: LeaseInfo[] = [];
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix) || entry.holder === undefined || entry.expiresAt <= now) continue;
      live.push({ key, holder: entry.holder, fence: entry.fence, expiresAt: new Date(Date.now() + entry.expiresAt - now) });
    }
    return live;
  }

  /** The entry `lease` still owns; throws when the fence moved on. */
  private current(lease: Lease): Entry {
    const entry = this.entries.get(lease.key);
    if (entry === undefined || entry.fence !== lease.fence || entry.holder !== lease.holder) {
      throw new CheckpointLeaseLostError(lease.key, lease.fence, `the key is now held with fence ${entry?.fence ?? 'none'}`);
    }
    return entry;
  }
}
