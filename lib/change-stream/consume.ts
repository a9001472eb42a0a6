import type { Document } from 'mongodb';
import { from, type ObservableInput, type Subscription } from 'rxjs';
import type { StreamConfig } from './config';
import { pacedBatchSize } from './consume-options';
import type { Sink } from './delivery';
import { HandlerRecovery, type ResolvedHandlerErrors } from './handler-errors';
import { isAsync } from './handler-result';
import type { ReadPacing } from './reader';
import { StreamRun, type Receiver } from './run';
import type { CloseReason } from './status';
import { Waits } from './waits';

/**
 * What `consume()` calls per change. The change is done when what it
 * returns is: at once for `undefined` or a plain value (emitted as is), when
 * a Promise settles, when an Observable or async iterable completes.
 */
export type ChangeHandler<TChange, R> = (change: TChange) => ObservableInput<R> | R | void;

/**
 * A `consume()` subscription: its own cursor, read only as far ahead as
 * `highWaterMark` allows, one handler at a time in order, each event
 * acknowledged (and checkpointable) only when its handler is done.
 *
 * Events held in memory — queued here, in the handler, and in the driver's
 * own batch buffer — never exceed `highWaterMark`: the driver's batch size is
 * capped (half the mark by default), and a read that can fetch a batch runs
 * only when a whole batch fits. With a checkpoint, the handler of the next
 * event waits while `every.events` acknowledged events are unsaved, so a
 * crash repeats at most that many.
 *
 * @internal
 */
export class ConsumeRun<TChange extends Document, R> implements Receiver<TChange>, ReadPacing {
  readonly run: StreamRun<TChange>;
  private queue: Array<{ seq: number; change: TChange }> = [];
  private busy = false;
  private pumping = false;
  private halted = false;
  private waitingForSave = false;
  private handling: Subscription | undefined;
  private ready: (() => void) | undefined;
  private whenDrained: (() => void) | undefined;
  private readonly batchSize: number;
  private readonly recovery: HandlerRecovery;
  private readonly waits: Waits;

  constructor(
    config: StreamConfig<TChange>,
    private readonly handler: ChangeHandler<TChange, R>,
    private readonly highWaterMark: number,
    private readonly sink: Sink<R>,
    onHandlerError?: ResolvedHandlerErrors,
  ) {
    this.batchSize = pacedBatchSize(config.driverOptions.batchSize, highWaterMark);
    this.run = new StreamRun(config, { receiver: this, batchSize: this.batchSize, pacing: this });
    this.waits = new Waits(config.scheduler);
    this.recovery = new HandlerRecovery({ policy: onHandlerError, waits: this.waits, report: config.report, key: config.checkpoint?.key });
  }

  /** Events held: queued, being handled. (The driver's buffer is counted by the reader.) */
  private get held(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  mayRead(driverBuffered: number): boolean {
    return driverBuffered > 0 || this.held + this.batchSize <= this.highWaterMark;
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
    this.handling?.unsubscribe();
    this.handling = undefined;
    this.queue = [];
    this.busy = false;
    this.settleDrained();
  }

  /** The reader ended (invalidate, error): handle what is queued first. Otherwise drop it. */
  drained(reason: CloseReason): Promise<void> {
    if (reason !== 'completed' && reason !== 'error') this.halt();
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => (this.whenDrained = resolve));
  }

  ended(reason: CloseReason, error: unknown): void {
    if (reason === 'error') this.sink.error(error);
    else if (reason !== 'unsubscribed') this.sink.complete();
  }

  private get idle(): boolean {
    return this.halted || (!this.busy && this.queue.length === 0);
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy && !this.waitingForSave && !this.halted && this.queue.length > 0) {
        const next = this.queue.shift() as { seq: number; change: TChange };
        this.handle(next.seq, next.change);
      }
    } finally {
      this.pumping = false;
    }
    this.settleDrained();
  }

  private handle(seq: number, change: TChange, attempt = 1): void {
    this.busy = true;
    let output: ObservableInput<R> | R | void;
    try {
      output = this.handler(change);
    } catch (error) {
      this.failed(seq, change, error, attempt);
      return;
    }
    if (!isAsync<R>(output)) {
      if (output !== undefined) this.sink.next(output as R);
      this.handled(seq);
      return;
    }
    let completed = false;
    this.handling = from(output).subscribe({
      next: (value) => this.sink.next(value),
      error: (error: unknown) => this.failed(seq, change, error, attempt),
      complete: () => {
        completed = true;
        this.handling = undefined;
        this.handled(seq);
      },
    });
    if (completed) this.handling = undefined;
  }

  /** A handler failed: `onHandlerError` retries it, parks the change (then it is handled) or stops the subscription. */
  private failed(seq: number, change: TChange, error: unknown, attempt: number): void {
    this.handling = undefined;
    const decision = this.recovery.decide(error, attempt);
    if (decision === 'stop') {
      void this.run.close('error', error, true);
      return;
    }
    void decision
      .then(async (step) => {
        if (this.halted) return;
        if (step === 'retry') return this.handle(seq, change, attempt + 1);
        await this.recovery.park(change, error, attempt);
        if (!this.halted) this.handled(seq);
      })
      .catch((parkError: unknown) => void this.run.close('error', parkError, true));
  }

  private handled(seq: number): void {
    if (this.halted) return;
    this.busy = false;
    const position = this.run.position;
    position.acknowledged(seq);
    const backlog = position.backlog();
    if (backlog !== undefined) {
      this.waitingForSave = true;
      void backlog.then(() => {
        this.waitingForSave = false;
        this.pump();
      });
    }
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
