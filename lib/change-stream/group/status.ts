import type { ResumeToken } from 'mongodb';

/** Why a member stopped handling partitions. */
export type RevokeReason = 'rebalance' | 'leaseLost' | 'closed';

/**
 * What a consumer-group member reports on its stream's `status$`, next to
 * the statuses of each partition's own subscription (whose `key` is the
 * partition's checkpoint key, `${key}/p${partition}`):
 *
 * - `joined`: the member announced itself in the group `key` as `member`.
 * - `rebalanced`: the live members it sees changed; `share` is what this
 *   member should own now (it gives up the rest, then takes these as their
 *   leases come free).
 * - `assigned`: the member holds the lease of `partitions` (with `fence`)
 *   and starts handling them; `owned` is all it holds now.
 * - `revoked`: the member stopped handling `partitions`, after their last
 *   save and lease release (`rebalance`, `closed`) or at once because
 *   another member took them over (`leaseLost`: its saves were refused).
 * - `progress`: a partition's position was saved: `token`, how many changes
 *   of it the member handed to the handler since it was assigned
 *   (`handled`), when the newest of them was written (`lastEventAt`, from
 *   the change's `wallTime` or `clusterTime`) and how long after that it
 *   reached the handler (`lagMS`).
 * - `groupError`: a store call of the group itself (joining, renewing the
 *   announcement, listing the members, leaving) failed; it is retried at the
 *   next poll, the partitions keep running meanwhile.
 * - `left`: the member gave its announcement up (after revoking all).
 */
export type GroupStatus =
  | { readonly type: 'joined'; readonly key: string; readonly member: string; readonly partitions: number }
  | { readonly type: 'rebalanced'; readonly key: string; readonly members: readonly string[]; readonly share: readonly number[] }
  | { readonly type: 'assigned'; readonly key: string; readonly partitions: readonly number[]; readonly fence: number; readonly owned: readonly number[] }
  | { readonly type: 'revoked'; readonly key: string; readonly partitions: readonly number[]; readonly reason: RevokeReason; readonly owned: readonly number[] }
  | {
      readonly type: 'progress';
      readonly key: string;
      readonly partition: number;
      readonly token: ResumeToken;
      readonly handled: number;
      readonly lastEventAt: Date | undefined;
      readonly lagMS: number | undefined;
    }
  | { readonly type: 'groupError'; readonly key: string; readonly operation: GroupOperation; readonly error: unknown }
  | { readonly type: 'left'; readonly key: string; readonly member: string };

/** A store call a group member makes itself, as `groupError` names it. */
export type GroupOperation = 'join' | 'renew' | 'list' | 'leave';
