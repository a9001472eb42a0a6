import type { Document } from 'mongodb';
import { ClientClosedError } from '../errors';
import type { StreamConfig } from './config';
import { DEFAULTS } from './options';
import { Position } from './position';
import { ChangeStreamReader, type ReaderSink, type ReadPacing } from './reader';
import type { ChangeStreamStatus, CloseReason } from './status';
import { Waits } from './waits';

/** What a run delivers to: the plain subscribers' fan-out, or a `consume()` handler. @internal */
export interface Receiver<TChange> {
  /** A change read, numbered `seq` by the position; report it handled with `position.acknowledged`. */
  event(change: TChange, seq: number): void;
  /** Drops what is queued and any handler in flight (the subscriber left, or the lease is lost). */
  halt(): void;
  /**
   * Resolves once the changes already handed over are handled, so the final
   * save covers them — or at once after dropping them, where `reason` means
   * no one waits for them (the receiver decides).
   */
  drained(reason: CloseReason): Promise<void>;
  /** Tells the subscribers the run ended, after its final save. */
  ended(reason: CloseReason, error: unknown): void;
}

/** @internal */
export interface RunOptions<TChange> {
  receiver: Receiver<TChange>;
  /** The driver batch size this run reads with. */
  batchSize: number;
  pacing?: ReadPacing;
  /** Called once when the run starts closing. */
  onClosing?: () => void;
}

/**
 * One subscription's life on the server, composed of a reader (one logical
 * cursor), the {@link Position} it reports to, and a receiver that hands
 * changes on and acknowledges them.
 *
 * Closing stops the reader (killCursors), lets the receiver finish what it
 * was handed (unless halted), saves the last acknowledged position and
 * gives the lease up, reports `closed`, and only then tells the subscribers
 * it ended, so a subscriber that sees `error` or `complete` can rely on the
 * checkpoint. Every step is bounded by `checkpoint.timeoutMS`, so closing
 * always finishes.
 *
 * @internal
 */
export class StreamRun<TChange extends Document> implements ReaderSink<TChange> {
  readonly position: Position;
  private readonly reader: ChangeStreamReader<TChange>;
  private readonly waits: Waits;
  private readonly receiver: Receiver<TChange>;
  private closing: Promise<void> | undefined;
  private unhook: (() => void) | undefined;
  private detach: (() => void) | undefined;
  private opened = false;
  /** The last change handed on, for lag$ (read when sampled, never per event). */
  lastChange: TChange | undefined;

  constructor(
    readonly config: StreamConfig<TChange>,
    private readonly options: RunOptions<TChange>,
  ) {
    this.receiver = options.receiver;
    this.waits = new Waits(config.scheduler);
    const report = (status: ChangeStreamStatus): void => {
      if (status.type === 'opened') this.opened = true;
      config.report(status);
    };
    this.position = new Position({
      ...config,
      waits: this.waits,
      report,
      failed: (error, leaseLost) => void this.close('error', error, leaseLost),
    });
    const driverOptions = { ...config.driverOptions, batchSize: options.batchSize };
    this.reader = new ChangeStreamReader({ ...config, driverOptions, position: this.position, waits: this.waits, report }, this, options.pacing);
  }

  /** Whether closing has begun (a new subscription needs a new run). */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  start(): void {
    const owner = this.config.owner;
    if (owner?.closed === true) {
      void this.close('error', new ClientClosedError());
      return;
    }
    this.unhook = owner?.onClose(() => this.close('clientClosed'));
    this.detach = this.config.observer?.attach(this);
    this.reader.start();
  }

  /** Ends the run because its subscribers left. */
  stop(): Promise<void> {
    return this.close('unsubscribed');
  }

  event(change: TChange, seq: number): void {
    this.lastChange = change;
    this.receiver.event(change, seq);
  }

  error(error: unknown): void {
    void this.close('error', error);
  }

  complete(): void {
    void this.close('completed');
  }

  /** Ends the run; `halt` drops what the receiver still holds at once (a handler failed, the lease is lost). */
  close(reason: CloseReason, error?: unknown, halt = false): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.unhook?.();
    this.options.onClosing?.();
    this.waits.stop();
    const limit = this.config.checkpoint?.timeoutMS ?? DEFAULTS.timeoutMS;
    const stopped = within(this.reader.stop(), limit);
    if (halt) this.receiver.halt();
    this.closing = (async () => {
      await within(this.receiver.drained(reason), limit);
      const checkpointError = await this.position.close();
      await stopped;
      if (this.opened) {
        this.config.report({
          type: 'closed',
          reason,
          ...(reason === 'error' ? { error } : {}),
          ...(checkpointError !== undefined ? { checkpointError } : {}),
        });
      }
      this.detach?.();
      this.receiver.ended(reason, error);
    })();
    return this.closing;
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
