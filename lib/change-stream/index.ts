/**
 * `watch()`: hot, multicast change streams with fenced, resume-token
 * checkpoints. The pieces live in `./change-stream/`: the reader (one
 * logical cursor), the position (tokens, save schedule, store calls, lease),
 * the fan-out to plain subscribers and `consume()`.
 */
import type { ChangeStreamDocument, Document, ResumeToken } from 'mongodb';
import { Observable, Subject, type Subscription } from 'rxjs';
import { describe } from '../driver/names';
import type { StreamConfig, StreamOwner } from './config';
import { ConsumeRun, type ChangeHandler } from './consume';
import { resolveConsumeOptions, resolveWatchOptions, type ConsumeOptions, type RxWatchOptions } from './options';
import type { OpenChangeStream } from './reader';
import { Hub } from './shared';
import type { ChangeStreamStatus } from './status';

export type { RetryOptions } from './backoff';
export type { ChangeHandler } from './consume';
export type { CheckpointOptions, ConsumeOptions, LeaseOptions, RxWatchOptions } from './options';
export type { HistoryLostInfo, HistoryLostPolicy, OpenChangeStream } from './reader';
export type { ChangeStreamStatus, CloseReason, StoreOperation } from './status';
export type { StreamOwner } from './config';

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
 *   {@link connect}) and closes — `killCursors` — when the last one leaves,
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
 * - **Acknowledged consumption**: {@link consume} for at-least-once
 *   processing with bounded memory.
 * - **Recovery**: the driver resumes resumable errors itself; errors it
 *   surfaces (server selection, outages beyond its single retry) restart
 *   the stream from its last position after a backoff (`retry`);
 *   other errors (auth, bad pipeline) error it at once; history loss
 *   (286, 136) follows `onHistoryLost`, invalidates `onInvalidate`.
 * - **Closing**: unsubscribing at any moment kills the server cursor; the
 *   client's `close()` completes every subscription after its last save.
 * - **Reports** every occurrence on {@link status$}.
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

  private readonly config: StreamConfig<TChange>;
  private readonly hub: Hub<TChange>;
  private latest: ResumeToken | undefined;

  /**
   * Use `watch()` on a client, database or collection. Validates at once.
   *
   * @param open - opens a driver change stream, e.g.
   *   `(pipeline, options) => collection.watch(pipeline, options)`
   * @param pipeline - stages after `$changeStream`
   * @param options - the driver's change-stream options plus rxmongo's
   * @param owner - the client whose `close()` must first end this stream's
   *   subscriptions (killing cursors, saving checkpoints); they then complete
   */
  constructor(
    open: OpenChangeStream<TChange>,
    pipeline?: Document[],
    options?: RxWatchOptions<TChange>,
    owner?: StreamOwner,
  ) {
    if (typeof open !== 'function') {
      throw new TypeError(`RxChangeStream needs a function opening a driver change stream, got ${describe(open)}`);
    }
    const resolved = resolveWatchOptions<TChange>(pipeline, options);
    let hub: Hub<TChange> | undefined;
    super((subscriber) => hub?.attach(subscriber));
    const status = new Subject<ChangeStreamStatus>();
    this.status$ = status.asObservable();
    this.config = {
      ...resolved,
      open,
      owner,
      report: (event) => status.next(event),
      moved: (token) => {
        this.latest = token;
      },
    };
    hub = new Hub(this.config);
    this.hub = hub;
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
   * error ends it with the position of the last completed change saved, then
   * errors the subscriber with that error. History loss, invalidates and
   * outages follow the stream's options.
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
   */
  consume<R = never>(handler: ChangeHandler<TChange, R>, options?: ConsumeOptions): Observable<R> {
    if (typeof handler !== 'function') {
      throw new TypeError(`consume() needs a handler function, got ${describe(handler)}`);
    }
    const highWaterMark = resolveConsumeOptions(options, this.config.highWaterMark);
    // The bridge of a consume subscription: its engine pulls from a cursor of its own.
    return new Observable<R>((sink) => {
      const consumer = new ConsumeRun(this.config, handler, highWaterMark, sink);
      consumer.run.start();
      return () => void consumer.run.stop();
    });
  }
}
