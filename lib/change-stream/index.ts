/**
 * `watch()`: hot, multicast change streams with fenced, resume-token
 * checkpoints. The pieces live in `./change-stream/`: the reader (one
 * logical cursor), the position (tokens, save schedule, store calls, lease),
 * the fan-out to plain subscribers and `consume()`.
 */
import type { ChangeStreamDocument, Document, ResumeToken, TransactionOptions } from 'mongodb';
import { Observable, Subject, type Subscription } from 'rxjs';
import { describe } from '../driver/names';
import type { StreamConfig, StreamOwner } from './config';
import { ConsumeRun, type ChangeHandler } from './consume';
import { resolveConsumeOptions, type ConsumeOptions } from './consume-options';
import { resolveWatchOptions, type RxWatchOptions } from './options';
import { transactionClient, TransactionalRun, type TransactionalChangeHandler } from './transactional';
import type { OpenChangeStream } from './reader';
import { StreamObserver, type OplogHeadroom, type StreamLag, type StreamMetrics } from './observe';
import { Hub } from './shared';
// Consumer groups (./group): consume() of a stream with `group` runs a group member.
import { consumeGroup, groupNeedsConsume, groupSetup } from './group';
import type { GroupSetup } from './group/member';
import type { SnapshotSource } from './snapshot';
import type { ChangeStreamStatus } from './status';

export type { RetryOptions } from './backoff';
export type { ChangeHandler } from './consume';
export type { TransactionContext, TransactionalChangeHandler } from './transactional';
export type { HandlerErrorPolicy, HandlerRetryOptions } from './handler-errors';
export { replay, type DeadLetter, type DeadLetterError, type DeadLetterTarget, type ReplayHandler, type ReplayOptions } from './dead-letters';
export type { CheckpointOptions, CheckpointStart, LeaseOptions, RxWatchOptions } from './options';
export type { ConsumeOptions } from './consume-options';
export type { HistoryLostInfo, HistoryLostPolicy, OpenChangeStream } from './reader';
export type { ChangeStreamStatus, CloseReason, StoreOperation } from './status';
export type { StreamOwner } from './config';
export type { ChangeStreamSnapshotDocument, SnapshotSource } from './snapshot';
export type { GroupOptions, GroupStatus, RevokeReason, GroupOperation } from './group';
export type {
  HeadroomOptions,
  HeadroomPosition,
  ObserveOptions,
  OplogEntryTime,
  OplogHeadroom,
  OplogWindow,
  StreamLag,
  StreamMetrics,
} from './observe';

/**
 * A change stream as a hot, multicast `Observable` of change events — what
 * `watch()` on a client, database or collection returns.
 *
 * Motor counterpart: `MotorChangeStream` (from `watch()`); driver
 * counterpart: `ChangeStream`. Unlike both, one instance serves any number
 * of subscribers from **one** server cursor, can keep its position in a
 * {@link CheckpointStore}, and restarts itself after outages.
 *
 * - **Multicast**: the cursor opens on the first subscriber (or
 *   {@link RxChangeStream.connect}) and closes — `killCursors` — when the last one leaves,
 *   after `linger` ms if set. Subscribers get the events from their arrival
 *   on. Each driver batch is handed to every subscriber as it arrives —
 *   synchronously, or as one task on the `scheduler` if one is given — from
 *   one shared copy; a subscriber slow in `next` is cut off after a short
 *   slice and catches up later, so one that is slow or throws does not hold
 *   up the others; one that falls `bufferSize` events behind errors alone
 *   with `SubscriberOverflowError` (no event is skipped silently).
 * - **Checkpoints** (`checkpoint` option): one consumer at a time holds the
 *   key, across processes and machines (a fenced lease in the store; others
 *   wait as standbys). The stored position is loaded on open and the stream
 *   starts after it (`startAfter`, valid even after an invalidate); on a
 *   first run, the opening position is stored before the first change is
 *   delivered. Positions are saved once every current subscriber has been
 *   handed the event, and on quiet or filtered streams as the server's
 *   post-batch token advances; saves follow `every` and are flushed when
 *   the stream closes, before subscribers see `error`/`complete`. A stored
 *   checkpoint that cannot be read errors the stream
 *   (`CheckpointCorruptError`), never restarts it from now.
 * - **Acknowledged consumption**: {@link RxChangeStream.consume} for at-least-once
 *   processing with bounded memory.
 * - **Recovery**: the driver resumes resumable errors itself; errors it
 *   surfaces (server selection, outages beyond its single retry) restart
 *   the stream from its last position after a backoff (`retry`);
 *   other errors (auth, bad pipeline) error it at once; history loss
 *   (286, 136) follows `onHistoryLost`, invalidates `onInvalidate`.
 * - **Closing**: unsubscribing at any moment kills the server cursor; the
 *   client's `close()` completes every subscription after its last save.
 * - **Reports** every occurrence on {@link RxChangeStream.status$}.
 *
 * Bad options throw at the call (`TypeError` naming an unknown key,
 * `RangeError` naming an option out of range).
 *
 * @example Live dashboard
 * ```ts
 * const orders$ = client.db('shop').collection<Order>('orders')
 *   .watch([{ $match: { operationType: 'insert' } }], { linger: 5_000 });
 * orders$.subscribe((change) => tile.add(change.fullDocument));
 * orders$.subscribe(() => counter.increment()); // same cursor
 * ```
 * @see https://www.mongodb.com/docs/manual/changeStreams/
 */
export class RxChangeStream<
  TSchema extends Document = Document,
  TChange extends Document = ChangeStreamDocument<TSchema>,
> extends Observable<TChange> {
  /**
   * Every occurrence of this stream's subscriptions (the shared one and
   * each `consume()`): standby, acquired, opened, retrying, resumed,
   * checkpointed, checkpointError, leaseLost, historyLost, invalidated and
   * closed, each exactly once, from the moment of subscribing (hot, never
   * completes).
   */
  readonly status$: Observable<ChangeStreamStatus>;

  /**
   * How far behind the stream is: every `observe.sampleMS` (default 1000)
   * the age of the newest position its subscriptions read — the last change
   * delivered, or the post-batch token when the stream is quiet — and the
   * changes read but not yet acknowledged. Sampled, never per event.
   *
   * Hot and shared: subscribing starts the sampling, not the stream (with
   * no subscription running, `lagMS` is `undefined` and the counts are 0);
   * a late subscriber gets the latest sample at once. Never completes while
   * the stream can run again; completes when its client closes.
   *
   * @example
   * ```ts
   * orders$.lag$.subscribe(({ lagMS, unacknowledged }) => gauge.set(lagMS ?? 0, unacknowledged));
   * ```
   */
  readonly lag$: Observable<StreamLag>;

  /**
   * The oplog window of the member the stream reads (the one its
   * `readPreference` option selects, else the client's: the primary by
   * default) against the position a restart would resume from — the stored checkpoint (with `checkpoint`,
   * whether a consumer runs or not), else the stream's own: every
   * `headroom.every` ms (default 60 000). When the headroom falls below
   * `headroom.marginMS` (default one hour), `status$` reports
   * `headroomLow` once, before the position falls off the oplog and the
   * next resume turns into history lost.
   *
   * Reads the first and last entries of `local.oplog.rs` (and the entry at
   * the position, for its wall time); where the oplog cannot be read (no
   * access to `local`, as on Atlas' shared tiers) it falls back to
   * `replSetGetStatus` and reports what is unknown in `unavailable` —
   * headroom never errors. Hot and shared like {@link RxChangeStream.lag$}; completes
   * when the client closes.
   */
  readonly headroom$: Observable<OplogHeadroom>;

  /**
   * The stream's figures every `observe.sampleMS`: events read and events
   * per second, lag, unacknowledged changes (queue depth), headroom (while
   * watched), checkpoint age, restarts. Hot and shared like {@link RxChangeStream.lag$}.
   *
   * While the stream runs, the same figures go to OpenTelemetry when
   * `@opentelemetry/api` is installed (meter `rxmongodb`, attribute
   * `rxmongodb.stream`; see the README); `observe.openTelemetry: false`
   * turns that off.
   */
  readonly metrics$: Observable<StreamMetrics>;

  private readonly config: StreamConfig<TChange>;
  private readonly hub: Hub<TChange>;
  private latest: ResumeToken | undefined;
  /** Consumer groups: this member's setup when the `group` option is given. */
  private readonly group: GroupSetup<TChange> | undefined;

  /**
   * Use `watch()` on a client, database or collection. Validates at once.
   * @internal
   *
   * @param open - opens a driver change stream, e.g.
   *   `(pipeline, options) => collection.watch(pipeline, options)`
   * @param pipeline - stages after `$changeStream`
   * @param options - the driver's change-stream options plus rxmongo's
   * @param owner - the client whose `close()` must first end this stream's
   *   subscriptions (killing cursors, saving checkpoints); they then complete
   * @param snapshotOf - the collection watched, for `initialSnapshot`
   */
  constructor(
    open: OpenChangeStream<TChange>,
    pipeline?: Document[],
    options?: RxWatchOptions<TChange>,
    owner?: StreamOwner,
    snapshotOf?: SnapshotSource,
  ) {
    if (typeof open !== 'function') {
      throw new TypeError(`RxChangeStream needs a function opening a driver change stream, got ${describe(open)}`);
    }
    const resolved = resolveWatchOptions<TChange>(pipeline, options);
    if (resolved.initialSnapshot && snapshotOf === undefined) {
      throw new TypeError("watch() option initialSnapshot reads a collection's documents: use it on a collection's watch(), not a client's or a database's");
    }
    let hub: Hub<TChange> | undefined;
    super((subscriber) => (resolved.group !== undefined ? subscriber.error(groupNeedsConsume()) : hub?.attach(subscriber)));
    const status = new Subject<ChangeStreamStatus>();
    this.status$ = status.asObservable();
    const report = (event: ChangeStreamStatus): void => {
      observer.status(event);
      status.next(event);
    };
    const observer = new StreamObserver({
      observe: resolved.observe,
      checkpoint: resolved.checkpoint,
      readPreference: resolved.driverOptions.readPreference,
      scheduler: resolved.scheduler,
      owner,
      position: () => this.latest,
      report,
    });
    this.lag$ = observer.lag$;
    this.headroom$ = observer.headroom$;
    this.metrics$ = observer.metrics$;
    observer.watchWhileRunning();
    this.config = {
      ...resolved,
      open,
      owner,
      snapshotSource: resolved.initialSnapshot ? snapshotOf : undefined,
      report,
      moved: (token) => {
        this.latest = token;
      },
      observer: observer.runs,
    };
    hub = new Hub(this.config);
    this.hub = hub;
    // Consumer groups: each partition is an RxChangeStream of its own over the same source.
    this.group =
      resolved.group &&
      groupSetup<TChange>({
        ...resolved,
        group: resolved.group,
        open,
        options: options as RxWatchOptions<TChange>,
        owner,
        report: this.config.report,
        create: (stages, partitionOptions) => new RxChangeStream<TSchema, TChange>(open, stages, partitionOptions, owner),
      });
  }

  /**
   * The newest position a subscription of this stream has handled (or
   * loaded from its checkpoint): pass it as `startAfter` to continue from
   * there (or `startAtOperationTime` when it is a `Timestamp`, as on a first
   * run whose first batch held changes). `undefined` before any.
   *
   * Driver counterpart: `ChangeStream.resumeToken` (which tracks the last
   * event *returned*, handled or not).
   */
  get resumeToken(): ResumeToken | undefined {
    return this.latest;
  }

  /**
   * Opens the shared cursor now, without a subscriber, and keeps it open
   * until the returned subscription is unsubscribed (then the usual
   * last-subscriber rule applies). Subscribers arriving later see events
   * from their arrival on.
   *
   * RxJS counterpart: `ConnectableObservable.connect()`.
   */
  connect(): Subscription {
    if (this.group !== undefined) throw groupNeedsConsume();
    return this.hub.connect();
  }

  /**
   * Processes changes one at a time, in order, for at-least-once handling:
   * `handler` runs for a change only after the previous one is done, and
   * only then is the change acknowledged and its position eligible for the
   * checkpoint. A handler may return nothing or a plain value (done at
   * once; the value is emitted), a Promise (done when it resolves), or an
   * Observable or async iterable (done when it completes). The returned
   * Observable emits what the handlers emit.
   *
   * A consume subscription has its own cursor, paced by the handler: at
   * most `highWaterMark` events are held in memory (queued, in the handler,
   * and in the driver's batch buffer), however slow the handler. A handler
   * error follows `onHandlerError`: by default (`'stop'`) it ends the
   * subscription with the position of the last completed change saved,
   * then errors the subscriber with that error; `'retry'` runs the handler
   * again after a backoff; `'park'` writes the change and the error to
   * `deadLetters` and goes on (see {@link replay}). History loss,
   * invalidates and outages follow the stream's options.
   *
   * **Exactly-once** (`transactional: true`, with a checkpoint in a
   * `CollectionCheckpointStore` on the stream's own client): changes are
   * handled in batches of up to `checkpoint.every.events`, each in one
   * transaction that also saves the checkpoint, fenced by the lease. The
   * handler gets `{ session }` — the driver session of that transaction;
   * rxmongo's operations and the driver's both take it as `session` — and
   * every write it makes there commits together with the position, or not
   * at all. After any crash the projection holds each change exactly once.
   * Transient transaction errors are retried as the driver's
   * `withTransaction` does, running the batch's handlers again, so a
   * handler must only do database work in `session`; what it emits is
   * emitted once, after the commit. A batch is cut short when no further
   * change is waiting, so a caught-up consumer never keeps a transaction
   * open; and it holds at most what has been read (the driver reads
   * `highWaterMark / 2` changes at a time), so give `highWaterMark` at least
   * twice `every.events` for full batches. A consumer killed mid-transaction leaves it open on the server;
   * its successor ends it at once (`killSessions`). Anything but a
   * `CollectionCheckpointStore` on the stream's client is a `TypeError`.
   *
   * Cold: each subscription opens its own cursor. With a `checkpoint`, each
   * subscription takes the key's lease first: while another consumer (in
   * this process or any other) holds it, it waits as a standby, or errors
   * with `CheckpointInUseError` if `lease.wait` is `false`.
   *
   * Motor counterpart: `async for change in stream: await handle(change)`
   * with your own `resume_after` bookkeeping.
   *
   * @example Event-sourcing projector
   * ```ts
   * events.watch([], { checkpoint: { store, key: 'projector', every: { events: 50 } } })
   *   .consume((change) => projection.apply(change), { highWaterMark: 200 }) // a plain value: done
   *   .subscribe({ error: (err) => log.fatal(err) });
   * ```
   *
   * @example Exactly-once projection
   * ```ts
   * const store = new CollectionCheckpointStore(client.driver.db('ops').collection('checkpoints'));
   * orders.watch([], { checkpoint: { store, key: 'totals', every: { events: 100 } } })
   *   .consume((change, { session }) =>
   *     totals.updateOne({ _id: change.fullDocument.customer }, { $inc: { sum: change.fullDocument.amount } }, { upsert: true, session }),
   *     { transactional: true })
   *   .subscribe({ error: (err) => log.fatal(err) });
   * ```
   */
  consume<R = never>(handler: TransactionalChangeHandler<TChange, R>, options: ConsumeOptions & { transactional: true | TransactionOptions }): Observable<R>;
  consume<R = never>(handler: ChangeHandler<TChange, R>, options?: ConsumeOptions): Observable<R>;
  consume<R = never>(handler: ChangeHandler<TChange, R> | TransactionalChangeHandler<TChange, R>, options?: ConsumeOptions): Observable<R> {
    if (typeof handler !== 'function') {
      throw new TypeError(`consume() needs a handler function, got ${describe(handler)}`);
    }
    const { highWaterMark, transactional, onHandlerError } = resolveConsumeOptions(options, this.config.highWaterMark);
    if (transactional !== undefined) transactionClient(this.config, onHandlerError);
    // A group member runs one ordinary consume() per partition it owns, each with these same options.
    if (this.group !== undefined) return consumeGroup(this.group, handler, { ...options, highWaterMark });
    // The bridge of a consume subscription: its engine pulls from a cursor of its own.
    return new Observable<R>((sink) => {
      const consumer =
        transactional === undefined
          ? new ConsumeRun(this.config, handler as ChangeHandler<TChange, R>, highWaterMark, sink, onHandlerError)
          : new TransactionalRun(this.config, handler, highWaterMark, transactional, sink, onHandlerError);
      consumer.run.start();
      return () => void consumer.run.stop();
    });
  }
}
