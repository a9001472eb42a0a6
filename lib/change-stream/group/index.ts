/**
 * Consumer groups: one change stream's work split across processes. A
 * member is a coordinator over ordinary single-consumer subscriptions, one
 * per partition it owns, each with its own fenced lease and checkpoint
 * (`${key}/p${i}`) and the partition's filter run by the server.
 */
import type { Document, ResumeToken } from 'mongodb';
import { Observable, type SchedulerLike } from 'rxjs';
import type { CheckpointStore } from '../../checkpoint/store';
import type { StreamOwner } from '../config';
import type { AnyChangeHandler } from './partition';
import type { CheckpointOptions, RxWatchOptions } from '../options';
import type { ConsumeOptions } from '../consume-options';
import type { OpenChangeStream } from '../reader';
import type { ChangeStreamStatus } from '../status';
import { GroupMember, type GroupSetup } from './member';
import type { ResolvedGroup } from './options';
import { partitionStage, type PartitionStream } from './partition';
import type { Origin } from './record';

export type { GroupOptions } from './options';
export type { GroupStatus, GroupOperation, RevokeReason } from './status';

const DEFAULT_TIMEOUT_MS = 10_000;
const START_KEYS = ['resumeAfter', 'startAfter', 'startAtOperationTime'] as const;

/** What `RxChangeStream` hands its group: its own inputs, as given and as validated. @internal */
export interface GroupInput<TChange extends Document> {
  group: ResolvedGroup;
  open: OpenChangeStream<TChange>;
  /** The validated pipeline. */
  pipeline: Document[];
  /** The options as given (with `group` and `checkpoint`). */
  options: RxWatchOptions<TChange>;
  scheduler: SchedulerLike;
  owner: StreamOwner | undefined;
  report(status: ChangeStreamStatus): void;
  /** Makes a partition's stream: an `RxChangeStream` over the same source. */
  create(pipeline: Document[], options: RxWatchOptions<TChange>): PartitionStream<TChange>;
}

/** Derives a member's setup from its stream's options (already validated). @internal */
export function groupSetup<TChange extends Document>(input: GroupInput<TChange>): GroupSetup<TChange> {
  const { group: _group, checkpoint, ...rest } = input.options as RxWatchOptions<TChange> & { checkpoint: CheckpointOptions };
  const given = rest as Record<string, unknown>;
  const start = (checkpoint.start ?? START_KEYS.map((k) => given[k]).find((v) => v != null) ?? 'now') as 'now' | Origin;
  for (const k of START_KEYS) delete given[k];
  const { key, partitions, leaseMS } = { key: checkpoint.key, ...input.group };
  return {
    key,
    store: checkpoint.store as CheckpointStore & Required<Pick<CheckpointStore, 'leases'>>,
    partitions,
    leaseMS,
    timeoutMS: checkpoint.timeoutMS ?? DEFAULT_TIMEOUT_MS,
    scheduler: input.scheduler,
    start,
    probe: () => currentPosition(input.open),
    stream: (partition, origin) =>
      input.create([partitionStage(partitions, partition), ...input.pipeline], {
        ...(rest as RxWatchOptions<TChange>),
        checkpoint: { ...checkpoint, key: `${key}/p${partition}`, start: origin, lease: { ttlMS: leaseMS, wait: true } },
      }),
    owner: input.owner,
    report: input.report,
  };
}

/**
 * `consume()` of a stream with the `group` option: this subscription is one
 * member of the group; handlers run for the changes of the partitions it
 * owns, one at a time per partition (partitions run side by side), and the
 * handlers' emissions are merged.
 * @internal
 */
export function consumeGroup<TChange extends Document, R>(
  setup: GroupSetup<TChange>,
  handler: AnyChangeHandler<TChange, R>,
  options: ConsumeOptions,
): Observable<R> {
  return new Observable<R>((subscriber) => {
    const member = new GroupMember(setup, handler, options, subscriber);
    member.start();
    return () => void member.leave({ kind: 'unsubscribed' });
  });
}

/** What a plain subscriber (or `connect()`) of a group's stream gets: groups split work for `consume()` only. @internal */
export function groupNeedsConsume(): TypeError {
  return new TypeError('a stream with the group option is read with consume() in each member; subscribe() and connect() would read every partition');
}

/** The stream's position now: the server's post-batch token of a cursor opened and closed at once. */
async function currentPosition<TChange extends Document>(open: OpenChangeStream<TChange>): Promise<ResumeToken> {
  const stream = open([], { maxAwaitTimeMS: 1 });
  try {
    await stream.tryNext();
    const token = stream.resumeToken;
    if (token == null) throw new Error('the server returned no resume token for a new change stream');
    return token;
  } finally {
    await stream.close().catch(() => {});
  }
}
