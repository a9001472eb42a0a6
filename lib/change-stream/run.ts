import type { ChangeStreamOptions, Document, ResumeToken } from 'mongodb';
import { ClientClosedError } from '../errors';
import { Checkpointer } from './checkpointer';
import type { StreamConfig } from './config';
import { ChangeStreamReader, type ReaderSink, type ReadPacing } from './reader';
import { TokenTracker } from './token-tracker';

export type CloseReason = 'unsubscribed' | 'completed' | 'error';

/**
 * One subscription's life on the server: a reader (one logical cursor), the
 * token tracker of what it has handled, and its checkpointer. Subclasses
 * decide what "handled" means (delivered to every plain subscriber, or
 * acknowledged by a `consume()` handler).
 *
 * Closing stops the reader (killCursors), saves the last handled position,
 * reports `closed`, and only then tells the subscribers it ended, so a
 * subscriber that sees `error` or `complete` can rely on the checkpoint.
 */
export abstract class Run<TChange extends Document> implements ReaderSink<TChange> {
  protected readonly tracker = new TokenTracker();
  protected readonly checkpointer: Checkpointer | undefined;
  private reader: ChangeStreamReader<TChange> | undefined;
  private readonly previousSave: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private unhook: (() => void) | undefined;
  private opened = false;

  /** Throws `CheckpointInUseError` when another subscription writes the checkpoint. */
  constructor(protected readonly config: StreamConfig<TChange>) {
    const checkpoint = config.checkpoint;
    if (checkpoint === undefined) return;
    this.previousSave = checkpoint.lease.take(this);
    this.checkpointer = new Checkpointer(
      { ...checkpoint, retry: config.retry, scheduler: config.scheduler },
      {
        saved: (token) => config.report({ type: 'checkpointed', key: checkpoint.key, token }),
        failed: (error) => void this.close('error', error),
      },
    );
  }

  /** Whether closing has begun (a new subscription needs a new run). */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  start(): void {
    const { checkpoint, owner } = this.config;
    this.reader = new ChangeStreamReader(
      {
        ...this.config,
        driverOptions: this.driverOptions(),
        loadStart: checkpoint && (() => this.loadCheckpoint()),
        report: (status) => {
          if (status.type === 'opened') this.opened = true;
          this.config.report(status);
        },
      },
      this,
      this.pacing(),
    );
    this.unhook = owner?.onClose(() => this.close('error', new ClientClosedError()));
    this.reader.start();
  }

  /** Ends the run because its subscribers left. */
  stop(): Promise<void> {
    return this.close('unsubscribed');
  }

  abstract event(change: TChange, token: ResumeToken | undefined): void;
  abstract error(error: unknown): void;
  abstract complete(): void;

  quiet(token: ResumeToken): void {
    const moved = this.tracker.quiet(token);
    if (moved !== undefined) this.advance(moved, 0);
  }

  /** The driver options this run opens with. */
  protected driverOptions(): ChangeStreamOptions {
    return this.config.driverOptions;
  }

  protected pacing(): ReadPacing | undefined {
    return undefined;
  }

  /** Resolves once events already read are handled, so the final save covers them. */
  protected drained(): Promise<void> {
    return Promise.resolve();
  }

  /** Tells the subscribers the run ended, after the checkpoint was saved. */
  protected abstract ended(reason: CloseReason, error: unknown): void;

  /** Marks every event up to `seq` handled. */
  protected acknowledge(seq: number): void {
    const { events, token } = this.tracker.acknowledge(seq);
    if (token !== undefined) this.advance(token, events);
  }

  protected close(reason: CloseReason, error?: unknown): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.unhook?.();
    const stopped = this.reader?.stop() ?? Promise.resolve();
    const checkpointer = this.checkpointer;
    const saved = checkpointer === undefined ? Promise.resolve() : this.drained().then(() => checkpointer.flush());
    const savedOutcome = saved.then(
      () => undefined,
      (checkpointError: unknown) => checkpointError,
    );
    if (this.config.checkpoint !== undefined) {
      this.config.checkpoint.lease.release(
        this,
        savedOutcome.then(() => undefined),
      );
    }
    this.closing = Promise.all([stopped, savedOutcome]).then(([, checkpointError]) => {
      if (this.opened) {
        this.config.report({
          type: 'closed',
          reason,
          ...(reason === 'error' ? { error } : {}),
          ...(checkpointError !== undefined ? { checkpointError } : {}),
        });
      }
      this.ended(reason, error);
    });
    return this.closing;
  }

  private advance(token: ResumeToken, events: number): void {
    this.config.moved(token);
    this.checkpointer?.offer(token, events);
  }

  private async loadCheckpoint(): Promise<ResumeToken | undefined> {
    const checkpoint = this.config.checkpoint;
    if (checkpoint === undefined) return undefined;
    await this.previousSave;
    const token = await checkpoint.store.load(checkpoint.key);
    if (token == null) return undefined;
    this.tracker.startFrom(token);
    this.checkpointer?.startFrom(token);
    this.config.moved(token);
    return token;
  }
}
