import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { SchedulerLike, Subscription } from 'rxjs';
import type { CheckpointStore, Lease } from '../../checkpoint/store';
import { CheckpointInUseError, CheckpointLeaseLostError } from '../../errors';
import { isTransientStoreError } from '../classify';
import { bounded, persist, type CallContext } from './calls';

/** @internal */
export interface LeaseConfig {
  store: CheckpointStore;
  ttlMS: number;
  wait: boolean;
  scheduler: SchedulerLike;
  context: CallContext;
  /** The lease is gone (taken over, or not renewed within its ttl). */
  lost(error: CheckpointLeaseLostError | unknown): void;
}

/** A holder name unique to this subscription, and telling where it runs. */
function holderName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * One subscription's lease on its checkpoint key: takes it (waiting as a
 * standby while another consumer holds it, polling every third of the ttl),
 * renews it in the background at that same interval, and gives it up.
 * A renewal the store refuses, or no successful renewal for a whole ttl by
 * this process's clock, means the lease is lost: a standby may hold it now.
 *
 * @internal
 */
export class LeaseKeeper {
  private held: Lease | undefined;
  private renewing: Subscription | undefined;
  private confirmedAt = 0;
  private failures = 0;
  private readonly holder = holderName();

  constructor(private readonly config: LeaseConfig) {}

  /** The lease held, if any. */
  get lease(): Lease | undefined {
    return this.held;
  }

  private get interval(): number {
    return Math.max(1, Math.floor(this.config.ttlMS / 3));
  }

  /**
   * Takes the key, reporting `standby` once while another consumer holds it
   * (or throwing `CheckpointInUseError` when told not to wait) and
   * `acquired` when it is ours. Resolves `undefined` if the subscription
   * closed while waiting.
   */
  async acquire(): Promise<Lease | undefined> {
    const { store, ttlMS, context } = this.config;
    let waiting = false;
    while (!context.waits.stopped) {
      const startedAt = this.config.scheduler.now();
      const lease = await persist('acquire', context, () => store.acquire(context.key, { holder: this.holder, ttlMS }));
      if (lease !== undefined && context.waits.stopped) {
        // The subscription closed while the store answered: give the key straight back.
        await bounded('release', context, () => store.release(lease)).catch(() => {});
        return undefined;
      }
      if (lease !== undefined) {
        this.held = lease;
        this.confirmedAt = startedAt;
        context.report({ type: 'acquired', key: context.key, fence: lease.fence });
        this.renewing = this.config.scheduler.schedule(() => void this.renew(), this.interval);
        return lease;
      }
      if (!this.config.wait) throw new CheckpointInUseError(context.key);
      if (!waiting) context.report({ type: 'standby', key: context.key });
      waiting = true;
      await context.waits.sleep(this.interval);
    }
    return undefined;
  }

  /** Stops renewing and gives the lease up (bounded; a failure only leaves it to expire). */
  async release(): Promise<void> {
    this.stopRenewing();
    const lease = this.held;
    this.held = undefined;
    if (lease === undefined) return;
    await bounded('release', this.config.context, () => this.config.store.release(lease)).catch(() => {});
  }

  /** Stops renewing without giving the lease up (it was lost). */
  stopRenewing(): void {
    this.renewing?.unsubscribe();
    this.renewing = undefined;
  }

  private async renew(): Promise<void> {
    const lease = this.held;
    if (lease === undefined || this.renewing === undefined) return;
    const sentAt = this.config.scheduler.now();
    try {
      await bounded('renew', this.config.context, () => this.config.store.renew(lease, this.config.ttlMS));
      this.confirmedAt = sentAt;
      this.failures = 0;
    } catch (error) {
      if (this.held !== lease || this.renewing === undefined) return;
      const expired = this.config.scheduler.now() - this.confirmedAt >= this.config.ttlMS;
      if (!isTransientStoreError(error) || expired) {
        this.stopRenewing();
        this.config.lost(
          expired && isTransientStoreError(error)
            ? new CheckpointLeaseLostError(lease.key, lease.fence, `not renewed within ${this.config.ttlMS} ms (${String(error)})`)
            : error,
        );
        return;
      }
      this.failures += 1;
      const { key } = lease;
      this.config.context.report({ type: 'checkpointError', key, operation: 'renew', attempt: this.failures, error, delayMS: this.interval });
    }
    if (this.held === lease && this.renewing !== undefined) {
      this.renewing = this.config.scheduler.schedule(() => void this.renew(), this.interval);
    }
  }
}
