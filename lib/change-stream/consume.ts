import type { ChangeStreamOptions, Document, ResumeToken } from 'mongodb';
import { from, type ObservableInput, type Subscription } from 'rxjs';
import type { StreamConfig } from './config';
import type { Sink } from './delivery';
import type { ReadPacing } from './reader';
import { Run, type CloseReason } from './run';

/** What `consume()` calls per change; done when its Observable/Promise completes (`void`: at once). */
export type ChangeHandler<TChange, R> = (change: TChange) => ObservableInput<R> | void;

/**
 * A `consume()` subscription: its own cursor, read only as far ahead as
 * `highWaterMark` allows, one handler at a time in order, each event
 * acknowledged (and checkpointable) only when its handler completed.
 *
 * Events held in memory — queued here, in the handler, and in the driver's
 * own batch buffer — never exceed `highWaterMark`: the driver's batch size is
 * capped (half the mark by default), and a read that can fetch a batch runs
 * only when a whole batch fits. With a checkpoint, the handler of the next
 * event waits while `every.events` acknowledged events are unsaved, so a
 * crash repeats at most that many.
 */
export class ConsumeRun<TChange extends Document, R> extends Run<TChange> implements ReadPacing {
  private readonly queue: Array<{ seq: number; change: TChange }> = [];
  private busy = false;
  private pumping = false;
  private waitingForSave = false;
  private handling: Subscription | undefined;
  private ending: { error: unknown; failed: boolean } | undefined;
  private wake: (() => void) | undefined;
  private readonly batchSize: number;

  constructor(
    config: StreamConfig<TChange>,
    private readonly handler: ChangeHandler<TChange, R>,
    private readonly highWaterMark: number,
    private readonly sink: Sink<R>,
  ) {
    super(config);
    const requested = config.driverOptions.batchSize;
    this.batchSize = Math.min(highWaterMark, requested !== undefined && requested > 0 ? requested : Math.max(1, Math.floor(highWaterMark / 2)));
  }

  /** Events held: queued, being handled. (The driver's buffer is counted by the reader.) */
  get held(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  mayRead(driverBuffered: number): boolean {
    return driverBuffered > 0 || this.held + this.batchSize <= this.highWaterMark;
  }

  whenReady(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  event(change: TChange, token: ResumeToken | undefined): void {
    this.queue.push({ seq: this.tracker.read(token), change });
    this.pump();
  }

  error(error: unknown): void {
    this.ending = { error, failed: true };
    this.pump();
  }

  complete(): void {
    this.ending = { error: undefined, failed: false };
    this.pump();
  }

  /** The subscriber left: drop the handler in flight, keep what was acknowledged. */
  unsubscribe(): void {
    void this.close('unsubscribed');
  }

  protected override driverOptions(): ChangeStreamOptions {
    return { ...this.config.driverOptions, batchSize: this.batchSize };
  }

  protected override pacing(): ReadPacing {
    return this;
  }

  protected ended(reason: CloseReason, error: unknown): void {
    if (reason === 'error') this.sink.error(error);
    else if (reason === 'completed') this.sink.complete();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy && !this.waitingForSave && !this.isClosing && this.queue.length > 0) {
        const next = this.queue.shift() as { seq: number; change: TChange };
        this.handle(next.seq, next.change);
      }
    } finally {
      this.pumping = false;
    }
    if (!this.busy && !this.waitingForSave && this.queue.length === 0 && this.ending !== undefined) {
      void this.close(this.ending.failed ? 'error' : 'completed', this.ending.error);
    }
  }

  private handle(seq: number, change: TChange): void {
    this.busy = true;
    let output: ObservableInput<R> | void;
    try {
      output = this.handler(change);
    } catch (error) {
      void this.close('error', error);
      return;
    }
    if (output === undefined) {
      this.handled(seq);
      return;
    }
    let completed = false;
    this.handling = from(output).subscribe({
      next: (value) => this.sink.next(value),
      error: (error: unknown) => void this.close('error', error),
      complete: () => {
        completed = true;
        this.handling = undefined;
        this.handled(seq);
      },
    });
    if (completed) this.handling = undefined;
  }

  private handled(seq: number): void {
    this.busy = false;
    this.acknowledge(seq);
    const backlog = this.checkpointer?.backlog();
    if (backlog !== undefined) {
      this.waitingForSave = true;
      void backlog.then(() => {
        this.waitingForSave = false;
        this.pump();
      });
    }
    this.wake?.();
    this.wake = undefined;
    this.pump();
  }

  protected override close(reason: CloseReason, error?: unknown): Promise<void> {
    if (!this.isClosing) {
      this.handling?.unsubscribe();
      this.handling = undefined;
      this.queue.length = 0;
    }
    return super.close(reason, error);
  }
}
