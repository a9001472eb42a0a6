import { MongoError, MongoErrorLabel, type ClientSession, type Document, type MongoClient, type ResumeToken, type TransactionOptions } from 'mongodb';
import { from, type ObservableInput, type Subscription } from 'rxjs';
import { CollectionCheckpointStore } from '../checkpoint/collection';
import { clientOf, TransactionalCheckpointStore } from '../checkpoint/transactional';
import { CheckpointLeaseLostError } from '../errors';
import { backoffDelay } from './backoff';
import type { StreamConfig } from './config';
import { pacedBatchSize } from './consume-options';
import type { Sink } from './delivery';
import { HandlerRecovery, type ResolvedHandlerErrors } from './handler-errors';
import { isAsync } from './handler-result';
import type { ReadPacing } from './reader';
import { StreamRun, type Receiver } from './run';
import type { CloseReason } from './status';
import { Waits } from './waits';

/** What a transactional handler gets besides the change. */
export interface TransactionContext {
  /**
   * The driver session whose transaction is open: pass it as `session` to
   * every write that must commit with the checkpoint (rxmongo operations
   * and the driver's both take it). Do not commit, abort or end it.
   */
  readonly session: ClientSession;
}

/**
 * What `consume(handler, { transactional: true })` calls per change, inside
 * the open transaction. It may run more than once for one change (the
 * transaction is retried after a transient error), so it should only do
 * database work in `session`; what it emits is emitted once, after commit.
 */
export type TransactionalChangeHandler<TChange, R> = (change: TChange, context: TransactionContext) => ObservableInput<R> | R | void;

/** The handler's attempt was cut short because the subscription closed. */
const HALTED = new Error('rxmongo: consume() closed during the transaction');

interface Queued<TChange> {
  seq: number;
  change: TChange;
}

/**
 * A `consume({ transactional: true })` subscription: its own cursor, paced
 * like plain `consume()`, but the changes are handled in batches, each in
 * one transaction with the checkpoint save: the handlers run in order with
 * `{ session }`, then the position after the batch is saved (fenced by the
 * lease) in the same transaction, then it commits. Only then are the
 * changes acknowledged and what the handlers emitted delivered. So the
 * projection and the checkpoint always move together: after any crash,
 * each change is applied exactly once.
 *
 * A batch is at most `checkpoint.every.events` changes, and is cut short
 * when no further change is waiting (so a caught-up consumer never holds a
 * transaction open waiting for the server). Transient transaction errors
 * (`TransientTransactionError`, `UnknownTransactionCommitResult`) are
 * retried by the driver's `withTransaction`, re-running the batch's
 * handlers; past its time limit, the batch is tried again after the
 * stream's backoff. A handler error follows `onHandlerError`: a retry
 * re-runs the batch, a park writes the dead letter in the transaction.
 *
 * @internal
 */
export class TransactionalRun<TChange extends Document, R> implements Receiver<TChange>, ReadPacing {
  readonly run: StreamRun<TChange>;
  private readonly store: TransactionalCheckpointStore;
  private readonly batchSize: number;
  private readonly transactionSize: number;
  private readonly recovery: HandlerRecovery;
  private readonly waits: Waits;
  private queue: Array<Queued<TChange>> = [];
  /** The batch in its transaction. */
  private batch: Array<Queued<TChange>> | undefined;
  /** Failed attempts and, once parked, the error, per change of the batch. */
  private readonly failures = new Map<number, { attempts: number; error: unknown; parked: boolean }>();
  private deferred: NodeJS.Immediate | undefined;
  private halted = false;
  private handling: Subscription | undefined;
  private cancelAttempt: ((reason: unknown) => void) | undefined;
  private ready: (() => void) | undefined;
  private whenDrained: (() => void) | undefined;

  constructor(
    config: StreamConfig<TChange>,
    private readonly handler: TransactionalChangeHandler<TChange, R>,
    private readonly highWaterMark: number,
    private readonly options: TransactionOptions,
    private readonly sink: Sink<R>,
    onHandlerError: ResolvedHandlerErrors | undefined,
  ) {
    const checkpoint = config.checkpoint as NonNullable<typeof config.checkpoint>;
    this.store = new TransactionalCheckpointStore(checkpoint.store as CollectionCheckpointStore, transactionClient(config, onHandlerError));
    this.batchSize = pacedBatchSize(config.driverOptions.batchSize, highWaterMark);
    this.transactionSize = Math.min(checkpoint.events, highWaterMark);
    this.run = new StreamRun({ ...config, checkpoint: { ...checkpoint, store: this.store } }, { receiver: this, batchSize: this.batchSize, pacing: this });
    this.waits = new Waits(config.scheduler);
    this.recovery = new HandlerRecovery({ policy: onHandlerError, waits: this.waits, report: config.report, key: checkpoint.key });
  }

  mayRead(driverBuffered: number): boolean {
    return driverBuffered > 0 || this.queue.length + (this.batch?.length ?? 0) + this.batchSize <= this.highWaterMark;
  }

  onReady(ready: () => void): void {
    this.ready = ready;
  }

  event(change: TChange, seq: number): void {
    if (this.halted) return;
    this.queue.push({ seq, change });
    this.pump();
  }

  halt(): void {
    this.halted = true;
    this.waits.stop();
    this.queue = [];
    if (this.deferred !== undefined) clearImmediate(this.deferred);
    this.deferred = undefined;
    this.handling?.unsubscribe();
    this.handling = undefined;
    this.cancelAttempt?.(HALTED);
    this.settleDrained();
  }

  drained(reason: CloseReason): Promise<void> {
    if (reason !== 'completed' && reason !== 'error') this.halt();
    else this.pump();
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => (this.whenDrained = resolve));
  }

  ended(reason: CloseReason, error: unknown): void {
    void this.store.endSession();
    if (reason === 'error') this.sink.error(error);
    else if (reason !== 'unsubscribed') this.sink.complete();
  }

  private get idle(): boolean {
    return this.batch === undefined && (this.halted || this.queue.length === 0);
  }

  /** Starts the next batch: at once when a full one waits, else on the next turn, once the driver's buffered changes have arrived. */
  private pump(): void {
    if (this.batch !== undefined || this.halted || this.queue.length === 0 || this.deferred !== undefined) return this.settleDrained();
    if (this.queue.length >= this.transactionSize || this.run.isClosing) return this.startBatch();
    this.deferred = setImmediate(() => {
      this.deferred = undefined;
      if (this.batch === undefined && !this.halted && this.queue.length > 0) this.startBatch();
    });
  }

  private startBatch(): void {
    const batch = this.queue.splice(0, this.transactionSize);
    this.batch = batch;
    void this.commit(batch, 1);
  }

  /** Runs `batch` in transactions until one commits, the policy gives up, or the subscription closes. */
  private async commit(batch: Array<Queued<TChange>>, tries: number): Promise<void> {
    const position = this.run.position;
    const last = batch[batch.length - 1].seq;
    let values: R[] = [];
    let failed: { seq: number; error: unknown } | undefined;
    let stored: ResumeToken | undefined;
    try {
      const session = this.store.session;
      await position.exclusive(() =>
        session.withTransaction(async () => {
          values = [];
          failed = undefined;
          for (const { seq, change } of batch) {
            const failure = this.failures.get(seq);
            if (failure?.parked === true) {
              await this.recovery.park(change, failure.error, failure.attempts, session);
              continue;
            }
            try {
              await this.handle(change, session, values);
            } catch (error) {
              if (error !== HALTED && !isAborted(error)) failed = { seq, error };
              throw error;
            }
          }
          stored = await position.saveIn(session, last);
        }, this.options),
      );
    } catch (error) {
      if (this.halted) return this.finish();
      return this.failed(batch, tries, failed, error);
    }
    // Committed: the position must know, even when closing, or the final save would move the checkpoint back.
    position.committed(last, stored);
    for (const { seq } of batch) this.failures.delete(seq);
    if (!this.halted) for (const value of values) this.sink.next(value);
    this.finish();
  }

  /** A transaction of `batch` did not commit: retry, park, or end the subscription. */
  private async failed(batch: Array<Queued<TChange>>, tries: number, handlerFailure: { seq: number; error: unknown } | undefined, error: unknown): Promise<void> {
    if (error instanceof CheckpointLeaseLostError) {
      this.run.position.leaseLost(error);
      return this.finish();
    }
    if (handlerFailure === undefined) {
      // Aborted for sure and still transient after the driver's own retries (e.g. a dead holder's transaction
      // not ended yet): try again later. An unknown commit outcome ends the subscription instead: running the
      // batch again could apply it twice; the stored checkpoint tells the next run where it stands.
      if (!isAborted(error) || tries > this.run.config.retry.maxAttempts) return this.stop(error);
      await this.waits.sleep(backoffDelay(tries, this.run.config.retry));
      if (this.halted) return this.finish();
      return this.commit(batch, tries + 1);
    }
    const { seq, error: cause } = handlerFailure;
    const attempts = (this.failures.get(seq)?.attempts ?? 0) + 1;
    const decision = this.recovery.decide(cause, attempts);
    if (decision === 'stop') return this.stop(cause);
    const step = await decision;
    if (this.halted) return this.finish();
    this.failures.set(seq, { attempts, error: cause, parked: step === 'park' });
    return this.commit(batch, 1);
  }

  /** Runs the handler for one change, collecting what it emits into `values`. */
  private handle(change: TChange, session: ClientSession, values: R[]): Promise<void> {
    if (this.halted) return Promise.reject(HALTED);
    const output = this.handler(change, { session });
    if (!isAsync<R>(output)) {
      if (output !== undefined) values.push(output as R);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.cancelAttempt = reject;
      this.handling = from(output).subscribe({ next: (value) => values.push(value), error: reject, complete: resolve });
    }).finally(() => {
      this.handling = undefined;
      this.cancelAttempt = undefined;
    });
  }

  private stop(error: unknown): void {
    void this.run.close('error', error, true); // halts this receiver at once, so no batch starts after
    this.finish();
  }

  private finish(): void {
    this.batch = undefined;
    const ready = this.ready;
    this.ready = undefined;
    ready?.();
    this.pump();
  }

  private settleDrained(): void {
    if (this.whenDrained === undefined || !this.idle) return;
    const drained = this.whenDrained;
    this.whenDrained = undefined;
    drained();
  }
}

/** Whether `error` aborted the transaction and may pass if it runs again (the driver's own retry rule for the body). */
function isAborted(error: unknown): boolean {
  return (
    error instanceof MongoError &&
    error.hasErrorLabel(MongoErrorLabel.TransientTransactionError) &&
    !error.hasErrorLabel(MongoErrorLabel.UnknownTransactionCommitResult)
  );
}

/**
 * The client the transactions run on: the checkpoint store's, which must be
 * the stream's own (and the dead letters', when parking). `TypeError`
 * otherwise, and without a `CollectionCheckpointStore`.
 *
 * @internal
 */
export function transactionClient(config: Pick<StreamConfig<Document>, 'checkpoint' | 'owner'>, onHandlerError: ResolvedHandlerErrors | undefined): MongoClient {
  const store = config.checkpoint?.store;
  if (!(store instanceof CollectionCheckpointStore)) {
    throw new TypeError(
      `consume() option transactional needs a checkpoint with a CollectionCheckpointStore (the checkpoint commits in the handler's transaction); the stream has ${store === undefined ? 'no checkpoint' : `a ${store.constructor.name}`}`,
    );
  }
  const streamClient = config.owner?.driver;
  const storeClient = clientOf(store.collection);
  const client = storeClient ?? streamClient;
  if (client === undefined) throw new TypeError('consume() option transactional cannot tell which MongoClient the checkpoint store uses');
  if (streamClient !== undefined && client !== streamClient) {
    throw new TypeError(
      "consume() option transactional needs the CollectionCheckpointStore on the stream's own client (one transaction spans the handler's writes and the checkpoint); this store's collection belongs to another MongoClient",
    );
  }
  const letters = onHandlerError?.deadLetters === undefined ? undefined : clientOf(onHandlerError.deadLetters);
  if (letters !== undefined && letters !== client) {
    throw new TypeError("consume() option deadLetters must be on the stream's own client when transactional (a change is parked in the transaction)");
  }
  return client;
}
