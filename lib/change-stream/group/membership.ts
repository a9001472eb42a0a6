import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { CheckpointStore, Lease } from '../../checkpoint/store';
import { CheckpointLeaseLostError, CheckpointTimeoutError } from '../../errors';

/** A member id unique to this subscription, and telling where it runs. */
function memberId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * `call()`, rejected with `CheckpointTimeoutError` when it does not settle
 * within `timeoutMS` (the timer never outlives the call).
 */
export function within<T>(operation: string, key: string, timeoutMS: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckpointTimeoutError(operation, key, timeoutMS)), timeoutMS);
  });
  return Promise.race([Promise.resolve().then(call), timeout]).finally(() => clearTimeout(timer));
}

/**
 * A member's announcement in its group: a lease on
 * `${key}/members/${id}` in the group's store, renewed at every poll, and
 * the list of the members whose announcements are live. Members need no
 * other channel: no leader, no messages, only the store.
 *
 * @internal
 */
export class Membership {
  readonly id = memberId();
  private lease: Lease | undefined;
  private readonly prefix: string;

  constructor(
    private readonly store: CheckpointStore & Required<Pick<CheckpointStore, 'leases'>>,
    private readonly key: string,
    private readonly leaseMS: number,
    private readonly timeoutMS: number,
  ) {
    this.prefix = `${key}/members/`;
  }

  /** Announces (or re-announces) this member. */
  async announce(): Promise<void> {
    const memberKey = `${this.prefix}${this.id}`;
    const lease = await within('acquire', memberKey, this.timeoutMS, () => this.store.acquire(memberKey, { holder: this.id, ttlMS: this.leaseMS }));
    if (lease === undefined) throw new Error(`member key ${JSON.stringify(memberKey)} is held by another holder`);
    this.lease = lease;
  }

  /** Extends the announcement; announces again if the store no longer knows it. */
  async renew(): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) return this.announce();
    try {
      await within('renew', lease.key, this.timeoutMS, () => this.store.renew(lease, this.leaseMS));
    } catch (error) {
      if (!(error instanceof CheckpointLeaseLostError)) throw error;
      await this.announce();
    }
  }

  /** The ids of the live members, this one included, sorted. */
  async members(): Promise<string[]> {
    const live = await within('leases', this.prefix, this.timeoutMS, () => this.store.leases(this.prefix));
    const ids = new Set(live.map((lease) => lease.key.slice(this.prefix.length)));
    ids.add(this.id);
    return [...ids].sort();
  }

  /** Withdraws the announcement (its lease), so the others rebalance at their next poll; `false` if there was none. */
  async leave(): Promise<boolean> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return false;
    await within('release', lease.key, this.timeoutMS, () => this.store.release(lease));
    return true;
  }
}
