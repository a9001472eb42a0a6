import type { ClientSession, ClusterTime, EndSessionOptions, ServerSessionId, Timestamp, TransactionOptions } from 'mongodb';
import { inspect } from 'node:util';
import type { Observable } from 'rxjs';
import type { ClientContext } from '../driver/context';
import { fromCall, fromSync } from '../driver/from-call';
import { DRIVER_SESSION, type SessionCarrier } from '../driver/sessions';
import { fromTransaction } from '../driver/transaction';
import { CALLBACK, checkArgument } from './arguments';
import { END_SESSION_OPTIONS, TRANSACTION_OPTIONS } from './option-names';

/**
 * A logical session, as Observables.
 *
 * Obtained from `client.startSession()` (you end it) or `client.withSession(fn)`
 * (ended for you). Pass it as the `session` option of any operation — the
 * `RxClientSession` itself or its `driver` session both work.
 *
 * Motor equivalent: `AsyncIOMotorClientSession`; driver: `ClientSession`.
 *
 * @example
 * ```ts
 * client.withSession((session) =>
 *   session.withTransaction(() =>
 *     concat(
 *       accounts.updateOne({ _id: 'a' }, { $inc: { balance: -10 } }, { session }),
 *       accounts.updateOne({ _id: 'b' }, { $inc: { balance: 10 } }, { session }),
 *     ),
 *   ),
 * ).subscribe();
 * ```
 */
export class RxClientSession implements SessionCarrier {
  /** @internal */
  constructor(
    /** The driver session (escape hatch). */
    readonly driver: ClientSession,
    /** @internal */
    readonly context: ClientContext,
  ) {}

  /** The driver session, for the bridge's unwrapping of `session` options (see `SessionCarrier`). */
  get [DRIVER_SESSION](): ClientSession {
    return this.driver;
  }

  /** The server session id, once one has been acquired (driver `ClientSession.id`). */
  get id(): ServerSessionId | undefined {
    return this.driver.id;
  }

  /** Whether the session has ended (Motor `has_ended`). */
  get hasEnded(): boolean {
    return this.driver.hasEnded;
  }

  /** The latest cluster time seen by the session (Motor `cluster_time`). */
  get clusterTime(): ClusterTime | undefined {
    return this.driver.clusterTime;
  }

  /** The operation time of the latest operation in the session (Motor `operation_time`). */
  get operationTime(): Timestamp | undefined {
    return this.driver.operationTime;
  }

  /** Whether a transaction is running (Motor `in_transaction`). */
  get inTransaction(): boolean {
    return this.driver.inTransaction();
  }

  /** What `util.inspect` shows: the state, not the driver objects (they hold the connection string). */
  [inspect.custom](_depth: number, options: object): string {
    return `RxClientSession ${inspect(this.toJSON(), options)}`;
  }

  /** What `JSON.stringify` writes. */
  toJSON(): { hasEnded: boolean; inTransaction: boolean } {
    return { hasEnded: this.hasEnded, inTransaction: this.inTransaction };
  }

  /**
   * Starts a transaction when subscribed; nothing is sent until the first
   * operation in it. Prefer {@link RxClientSession.withTransaction}, which
   * also commits, aborts and retries.
   *
   * Motor: `start_transaction` (without the context manager); driver: `startTransaction`.
   */
  startTransaction(options?: TransactionOptions): Observable<void> {
    checkArgument('startTransaction', TRANSACTION_OPTIONS, options);
    return fromSync(this.context, () => this.driver.startTransaction(options));
  }

  /**
   * Commits the running transaction when subscribed. Motor: `commit_transaction`.
   */
  commitTransaction(): Observable<void> {
    return fromCall(this.context, () => this.driver.commitTransaction());
  }

  /**
   * Aborts the running transaction when subscribed. Motor: `abort_transaction`.
   */
  abortTransaction(): Observable<void> {
    return fromCall(this.context, () => this.driver.abortTransaction());
  }

  /**
   * Ends the session when subscribed (aborting a running transaction) and
   * returns its server session to the pool. Ending twice is harmless.
   * Motor: `end_session`.
   */
  endSession(options?: EndSessionOptions): Observable<void> {
    checkArgument('endSession', END_SESSION_OPTIONS, options);
    return fromCall(this.context, () => this.driver.endSession(options));
  }

  /**
   * Runs `fn(session)` in a transaction when subscribed: commits when its
   * Observable completes, aborts when it errors or when you unsubscribe, and
   * retries per the driver's transaction rules (the whole body again on
   * `TransientTransactionError`, the commit on `UnknownTransactionCommitResult`,
   * for up to 120 s). Emits the values of the committed attempt after the
   * commit, then completes; values of aborted attempts are discarded.
   *
   * Every operation in the body must pass `{ session }`. The body may run
   * more than once, so it should only do database work.
   *
   * Motor: `async with session.start_transaction()`; driver: `withTransaction`.
   */
  withTransaction<T>(fn: (session: RxClientSession) => Observable<T>, options?: TransactionOptions): Observable<T> {
    checkArgument('withTransaction', CALLBACK, fn);
    checkArgument('withTransaction', TRANSACTION_OPTIONS, options);
    return fromTransaction(this.context, this.driver, () => fn(this), options);
  }
}
