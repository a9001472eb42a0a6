import type { Document, ResumeToken } from 'mongodb';
import type { SchedulerLike, Subscriber, Subscription } from 'rxjs';
import type { CheckpointStore } from '../../checkpoint/store';
import { CheckpointCorruptError, ClientClosedError, ConfigurationError } from '../../errors';
import type { StreamOwner } from '../config';
import type { ConsumeOptions } from '../consume-options';
import type { ChangeStreamStatus } from '../status';
import { assignPartitions } from './assignment';
import { Membership, within } from './membership';
import { PartitionConsumer, type AnyChangeHandler, type PartitionEnd, type PartitionStreamFactory } from './partition';
import { isGroupRecord, originOf, type GroupRecord, type Origin } from './record';
import type { RevokeReason } from './status';

/** Everything a group member needs from its `RxChangeStream`. @internal */
export interface GroupSetup<TChange extends Document> {
  key: string;
  store: CheckpointStore & Required<Pick<CheckpointStore, 'leases'>>;
  partitions: number;
  leaseMS: number;
  /** Bound of each store call (`checkpoint.timeoutMS`). */
  timeoutMS: number;
  scheduler: SchedulerLike;
  /** Where the group starts on its very first run: the options' start, or "now". */
  start: 'now' | Origin;
  /** The stream's current position, for a first run starting "now". */
  probe(): Promise<ResumeToken>;
  /** Partition `i`'s own change stream (same pipeline behind the partition stage, own checkpoint key). */
  stream: PartitionStreamFactory<TChange>;
  owner: StreamOwner | undefined;
  report(status: ChangeStreamStatus): void;
}

/** How a member's subscription ends. */
type Ending = PartitionEnd | { readonly kind: 'unsubscribed' };

/**
 * One `consume()` subscription of a consumer group: announces the member,
 * polls the live members every third of `leaseMS`, and keeps one
 * {@link PartitionConsumer} running for each partition of its share
 * ({@link assignPartitions}). A partition leaving the share is stopped
 * (last save, lease released) before anything else happens to it; one
 * entering it starts as a standby that takes the lease as soon as the
 * previous owner lets go or its lease expires. A partition whose lease is
 * lost (the member was paused, its saves are refused) is dropped at once
 * and asked for again. A handler error, or any other failure of a
 * partition, ends the whole member (all partitions saved and released)
 * with that error, as it ends a single consumer.
 *
 * @internal
 */
export class GroupMember<TChange extends Document, R> {
  private readonly membership: Membership;
  private readonly running = new Map<number, PartitionConsumer<TChange, R>>();
  private readonly stopping = new Map<number, Promise<void>>();
  private readonly owned = new Set<number>();
  private share: number[] = [];
  private view = '';
  private origin: Origin | undefined;
  private timer: Subscription | undefined;
  private leaving: Promise<void> | undefined;
  private unregister: (() => void) | undefined;

  constructor(
    private readonly setup: GroupSetup<TChange>,
    private readonly handler: AnyChangeHandler<TChange, R>,
    private readonly options: ConsumeOptions,
    private readonly subscriber: Subscriber<R>,
  ) {
    this.membership = new Membership(setup.store, setup.key, setup.leaseMS, setup.timeoutMS);
  }

  private get pollMS(): number {
    return Math.max(1, Math.floor(this.setup.leaseMS / 3));
  }

  /** Joins the group and starts polling. */
  start(): void {
    if (this.setup.owner?.closed === true) {
      this.subscriber.error(new ClientClosedError());
      return;
    }
    this.unregister = this.setup.owner?.onClose(() => this.leave({ kind: 'completed' }));
    void this.join();
  }

  /**
   * Stops every partition (last saves, leases released), withdraws the
   * announcement, then ends the subscriber as `ending` says. Idempotent.
   */
  leave(ending: Ending): Promise<void> {
    this.leaving ??= this.close(ending);
    return this.leaving;
  }

  private async join(): Promise<void> {
    const { key } = this.setup;
    while (this.leaving === undefined) {
      try {
        this.origin ??= await this.groupOrigin();
        if (this.origin === undefined) return;
        await this.membership.announce();
        // Left while announcing: withdraw what close() could not see yet.
        if (this.leaving !== undefined) return void (await this.membership.leave().catch(() => false));
        this.setup.report({ type: 'joined', key, member: this.membership.id, partitions: this.setup.partitions });
        await this.poll();
        return;
      } catch (error) {
        if (isFatal(error)) return void this.leave({ kind: 'failed', error });
        this.setup.report({ type: 'groupError', key, operation: 'join', error });
        await this.sleep();
      }
    }
  }

  /**
   * Reads the group's record, writing it first if this is the group's first
   * member: its origin is a single consumer's stored position (a stream
   * growing into a group goes on from where it was), or the options' start,
   * or the stream's position now. Waits while another consumer holds the
   * key. `undefined` when the member left meanwhile.
   */
  private async groupOrigin(): Promise<Origin | undefined> {
    const { store, key, partitions, leaseMS, timeoutMS } = this.setup;
    let waiting = false;
    while (this.leaving === undefined) {
      const stored = await within('load', key, timeoutMS, () => store.load(key));
      if (isGroupRecord(stored)) return originOf(stored, key, partitions);
      // Before the lease: the probe opens a cursor, and the lease may be short.
      const now = stored === undefined && this.setup.start === 'now' ? await this.setup.probe() : undefined;
      const lease = await within('acquire', key, timeoutMS, () => store.acquire(key, { holder: this.membership.id, ttlMS: leaseMS }));
      if (lease === undefined) {
        if (!waiting) this.setup.report({ type: 'standby', key });
        waiting = true;
        await this.sleep();
        continue;
      }
      try {
        const current = await within('load', key, timeoutMS, () => store.load(key));
        if (isGroupRecord(current)) return originOf(current, key, partitions);
        const start = this.setup.start;
        const origin: Origin | undefined = current ?? (start === 'now' ? now : start);
        if (origin === undefined) continue; // a single consumer saved and released meanwhile: probe again
        const record: GroupRecord = { rxmongoGroup: { partitions, origin } };
        await within('save', key, timeoutMS, () => store.save(lease, record));
        return origin;
      } finally {
        await within('release', key, timeoutMS, () => store.release(lease)).catch(() => {});
      }
    }
    return undefined;
  }

  /** Renews the announcement, reads the members, rebalances; again every third of `leaseMS`. */
  private async poll(): Promise<void> {
    const { key } = this.setup;
    try {
      await this.membership.renew();
    } catch (error) {
      this.setup.report({ type: 'groupError', key, operation: 'renew', error });
    }
    try {
      const members = await this.membership.members();
      if (this.leaving === undefined) this.rebalance(members);
    } catch (error) {
      this.setup.report({ type: 'groupError', key, operation: 'list', error });
    }
    if (this.leaving === undefined) this.timer = this.setup.scheduler.schedule(() => void this.poll(), this.pollMS);
  }

  private rebalance(members: string[]): void {
    const view = members.join('\n');
    if (view !== this.view) {
      this.view = view;
      this.share = assignPartitions(this.setup.partitions, members).get(this.membership.id) ?? [];
      this.setup.report({ type: 'rebalanced', key: this.setup.key, members, share: this.share });
    }
    this.reconcile();
  }

  /** Stops what left the share, starts what entered it (once its previous consumer here has stopped). */
  private reconcile(): void {
    if (this.leaving !== undefined) return;
    const wanted = new Set(this.share);
    for (const partition of this.running.keys()) if (!wanted.has(partition)) this.revoke(partition, 'rebalance');
    for (const partition of this.share) {
      if (!this.running.has(partition) && !this.stopping.has(partition)) this.take(partition);
    }
  }

  private take(partition: number): void {
    const { key } = this.setup;
    const consumer = new PartitionConsumer<TChange, R>(partition, this.setup.stream(partition, this.origin as Origin), this.handler, this.options, {
      status: (status) => this.setup.report(status),
      acquired: (fence) => {
        if (this.running.get(partition) !== consumer) return;
        this.owned.add(partition);
        this.setup.report({ type: 'assigned', key, partitions: [partition], fence, owned: this.ownedNow() });
      },
      checkpointed: (token) => {
        const { handled, lastEventAt, lagMS } = consumer;
        this.setup.report({ type: 'progress', key, partition, token, handled, lastEventAt, lagMS });
      },
      output: (value) => this.subscriber.next(value),
      ended: (end) => this.ended(partition, consumer, end),
    });
    this.running.set(partition, consumer);
    consumer.start();
  }

  /** Stops `partition` (last save, lease released); reports `revoked` once it has. */
  private revoke(partition: number, reason: RevokeReason): Promise<void> {
    const consumer = this.running.get(partition);
    if (consumer === undefined) return this.stopping.get(partition) ?? Promise.resolve();
    this.running.delete(partition);
    // Closing bounds each of its steps (drain, last save, release) by timeoutMS.
    const stopped = consumer.stop(this.setup.timeoutMS * 3).then(() => {
      this.stopping.delete(partition);
      this.revoked([partition], reason);
      this.reconcile();
    });
    this.stopping.set(partition, stopped);
    return stopped;
  }

  private ended(partition: number, consumer: PartitionConsumer<TChange, R>, end: PartitionEnd): void {
    if (this.running.get(partition) !== consumer) return;
    this.running.delete(partition);
    if (end.kind !== 'leaseLost') {
      this.revoked([partition], 'closed');
      void this.leave(end);
      return;
    }
    // Another member holds it now; ask again as a standby (it comes back if it is still ours).
    this.revoked([partition], 'leaseLost');
    this.reconcile();
  }

  private revoked(partitions: number[], reason: RevokeReason): void {
    const held = partitions.filter((p) => this.owned.delete(p));
    if (held.length > 0) this.setup.report({ type: 'revoked', key: this.setup.key, partitions: held, reason, owned: this.ownedNow() });
  }

  private ownedNow(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  private async close(ending: Ending): Promise<void> {
    const { key } = this.setup;
    this.timer?.unsubscribe();
    await Promise.all([...this.running.keys()].map((partition) => this.revoke(partition, 'closed')).concat([...this.stopping.values()]));
    try {
      if (await this.membership.leave()) this.setup.report({ type: 'left', key, member: this.membership.id });
    } catch (error) {
      // Its announcement expires by itself within leaseMS.
      this.setup.report({ type: 'groupError', key, operation: 'leave', error });
    }
    // Only now: a client closing meanwhile waits for these saves and releases.
    this.unregister?.();
    if (ending.kind === 'failed') this.subscriber.error(ending.error);
    else if (ending.kind !== 'unsubscribed') this.subscriber.complete();
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.timer = this.setup.scheduler.schedule(() => resolve(), this.pollMS);
    });
  }
}

/** Errors a retry cannot cure: bad arguments, a group asked with another partition count, a corrupt record. */
function isFatal(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || error instanceof ConfigurationError || error instanceof CheckpointCorruptError;
}
