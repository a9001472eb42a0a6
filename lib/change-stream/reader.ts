import type { ChangeStream, ChangeStreamOptions, Document, MongoServerError, ResumeToken, Timestamp } from 'mongodb';
import type { SchedulerLike } from 'rxjs';
import { backoffDelay, type RetryOptions } from './backoff';
import { classifyError, operationTimeOf } from './classify';
import { FragmentAssembler } from './fragments';
import { InitialSnapshot, type SnapshotSource } from './snapshot';
import { replaceLostHistory, type HistoryLostPolicy } from './history';
import { isTimestamp } from './options';
import { Stopped, type Position } from './position';
import type { ChangeStreamStatus } from './status';
import type { Waits } from './waits';

export type { HistoryLostInfo, HistoryLostPolicy } from './history';

/**
 * Opens a driver change stream (nothing is sent until it is read), e.g.
 * `(pipeline, options) => collection.watch(pipeline, options)`.
 */
export type OpenChangeStream<TChange extends Document> = (
  pipeline: Document[],
  options: ChangeStreamOptions,
) => ChangeStream<Document, TChange>;

/** @internal */
export interface ReaderConfig<TChange extends Document> {
  open: OpenChangeStream<TChange>;
  pipeline: Document[];
  /** The user's driver options; the position replaces the start options once it knows one. */
  driverOptions: ChangeStreamOptions;
  retry: RetryOptions;
  onHistoryLost: HistoryLostPolicy<TChange>;
  onInvalidate: 'complete' | 'restart';
  scheduler: SchedulerLike;
  position: Position;
  waits: Waits;
  report(status: ChangeStreamStatus): void;
  /** The pipeline ends with `$changeStreamSplitLargeEvent`: put fragments back together. */
  splitLargeEvents?: boolean;
  /** Emit the collection's documents first, while no position is known (`initialSnapshot`). */
  snapshotSource?: SnapshotSource;
}

/** Where the reader hands what it read. @internal */
export interface ReaderSink<TChange> {
  /** A change, numbered `seq` by the position. */
  event(change: TChange, seq: number): void;
  error(error: unknown): void;
  complete(): void;
}

/** Paces reads for a consumer with a bounded buffer. @internal */
export interface ReadPacing {
  /** Whether the next `tryNext()` may run, given the events the driver holds. */
  mayRead(driverBuffered: number): boolean;
  /** Registers the one function to call once `mayRead` may have become true (replacing any earlier one). */
  onReady(ready: () => void): void;
  /**
   * Every event of the driver's batch has been handed over (the next read
   * asks the server): a receiver that delivers per batch delivers now.
   */
  endOfBatch?(): void;
}

type Ending = 'invalidated' | 'ended' | 'stopped';

/**
 * Reads one logical change stream through as many driver `ChangeStream`s as
 * it takes: claims the position first (lease, stored checkpoint), iterates
 * with `tryNext()` (so it sees the post-batch token of empty batches, and
 * reads only when paced to), leaves resumable errors to the driver, restarts
 * after the errors the driver surfaces with backoff from the newest position
 * read, and applies the history-lost and invalidate policies. Fatal errors
 * go to the sink at once.
 *
 * Stopping kills the server cursor at any moment: at once when the cursor
 * is known to exist (its aggregate has answered); while the aggregate is
 * still in flight, as soon as it answers (closing the driver stream before
 * that would end its session first, and the cursor would never be killed).
 *
 * @internal
 */
export class ChangeStreamReader<TChange extends Document> {
  private stopped = false;
  private everOpened = false;
  private stream: ChangeStream<Document, TChange> | undefined;
  /** Whether the current driver cursor exists on the server (its aggregate answered). */
  private cursorKnown = false;
  private readonly closing = new WeakMap<object, Promise<void>>();
  private cancelPolicy: (() => void) | undefined;
  private done: Promise<void> | undefined;
  private readonly fragments: FragmentAssembler<TChange> | undefined;
  private readonly snapshot: InitialSnapshot | undefined;

  constructor(
    private readonly config: ReaderConfig<TChange>,
    private readonly sink: ReaderSink<TChange>,
    private readonly pacing?: ReadPacing,
  ) {
    if (config.splitLargeEvents === true) this.fragments = new FragmentAssembler();
    if (config.snapshotSource !== undefined) {
      const stages = config.splitLargeEvents === true ? config.pipeline.slice(0, -1) : config.pipeline;
      this.snapshot = new InitialSnapshot(config.snapshotSource, stages, config.driverOptions.batchSize);
    }
  }

  start(): void {
    this.done ??= this.run();
  }

  /** Stops reading; resolves when the last cursor is closed. The sink hears nothing more. */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.cancelPolicy?.();
      this.snapshot?.stop();
      // killCursors ends a waiting getMore too; the read loop closes the stream again when its read settles.
      if (this.stream !== undefined && this.cursorKnown) this.closeSoon(this.stream);
    }
    return this.done ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    try {
      if (!(await this.config.position.claim())) return;
    } catch (error) {
      if (!(error instanceof Stopped) && !this.stopped) this.sink.error(error);
      return;
    }
    let failures = 0;
    let cause: unknown;
    try {
      while (!this.stopped) {
        let ending: Ending;
        try {
          if (this.snapshot?.due(this.config.position) === true && !(await this.snapshot.deliver(this.config, this.sink, this.pacing, () => this.stopped))) return;
          const stream = this.openStream();
          ending = await this.readFrom(stream, (token) => {
            if (!this.everOpened) this.config.report({ type: 'opened', token });
            else if (failures > 0) this.config.report({ type: 'resumed', attempt: failures, error: cause, token });
            this.everOpened = true;
            failures = 0;
            cause = undefined;
          });
        } catch (error) {
          await this.closeStream();
          if (this.stopped) return;
          const kind = classifyError(error);
          if (kind === 'fatal') return this.sink.error(error);
          failures += 1;
          cause = error;
          if (kind === 'historyLost' && !(await this.historyLost(error as MongoServerError))) return;
          if (failures > this.config.retry.maxAttempts) return this.sink.error(error);
          const delayMS = backoffDelay(failures, this.config.retry);
          this.config.report({ type: 'retrying', attempt: failures, error, delayMS });
          await this.config.waits.sleep(delayMS);
          continue;
        }
        await this.closeStream();
        if (ending === 'stopped' || this.stopped) return;
        if (ending === 'invalidated' && this.config.onInvalidate === 'restart') continue;
        return this.sink.complete();
      }
    } finally {
      await this.closeStream();
    }
  }

  private openStream(): ChangeStream<Document, TChange> {
    this.cursorKnown = false;
    this.fragments?.reset();
    this.stream = this.config.open(this.config.pipeline, this.config.position.startOptions(this.config.driverOptions));
    return this.stream;
  }

  /**
   * Reads until stopped, invalidated or ended. `opened` is called once the
   * cursor's opening position is known — and, on a first run from "now",
   * stored — before any change of it is delivered.
   */
  private async readFrom(stream: ChangeStream<Document, TChange>, opened: (token: ResumeToken | undefined) => void): Promise<Ending> {
    const { position, waits } = this.config;
    // The driver announces a token per change and per empty batch: only the first and their count matter.
    let firstToken: ResumeToken | undefined;
    let tokens = 0;
    let returned = false;
    let opening: Promise<void> | undefined;
    let openingDone = false;
    const begin = (point: ResumeToken | Timestamp | undefined): void => {
      opening ??= position.opened(point).then(() => {
        openingDone = true;
        if (!this.stopped) opened(isTimestamp(point) ? (stream.resumeToken ?? undefined) : point);
      });
    };
    // Fired only by a cursor the server answered: first by the aggregate when its batch is empty.
    const onToken = (token: ResumeToken): void => {
      this.cursorKnown = true;
      if (this.stopped) this.closeSoon(stream);
      tokens += 1;
      if (tokens === 1) {
        firstToken = token;
        // Still inside the first read on the next turn: the aggregate answered, a getMore waits.
        setImmediate(() => {
          if (!returned) begin(token);
        });
      }
    };
    // The driver closed its cursor to resume on a new one: that one is unknown until it answers.
    const onClose = (): void => {
      this.cursorKnown = false;
    };
    stream.on('resumeTokenChanged', onToken);
    stream.on('close', onClose);
    try {
      while (!this.stopped) {
        const pacing = this.pacing;
        if (pacing !== undefined) {
          const buffered = stream.bufferedCount();
          if (buffered === 0) {
            pacing.endOfBatch?.();
            // Its last subscriber may have left on one of its events: no getMore for no one.
            if (this.stopped) break;
          }
          if (!pacing.mayRead(buffered)) {
            await waits.until((wake) => pacing.onReady(wake));
            continue;
          }
        }
        const change = await stream.tryNext();
        this.cursorKnown = true;
        if (this.stopped) break;
        if (!returned) {
          returned = true;
          // A first batch with events moved no token before them: restart at the first one's time (inclusive).
          begin(change === null ? (firstToken ?? stream.resumeToken ?? undefined) : tokens >= 2 ? firstToken : clusterTimeOf(change));
        }
        if (!openingDone) await opening;
        if (this.stopped) break;
        const token: ResumeToken | undefined = stream.resumeToken ?? undefined;
        if (change !== null) {
          // A fragment of a split event moves nothing until the last one: a restart reads the event again whole.
          const whole = this.fragments === undefined ? change : this.fragments.add(change);
          if (whole === undefined) continue;
          this.sink.event(whole, position.read(token));
          if (this.stopped) break;
          if ((whole as { operationType?: unknown }).operationType === 'invalidate') {
            this.config.report({ type: 'invalidated', token, restarting: this.config.onInvalidate === 'restart' });
            return 'invalidated';
          }
        } else if (stream.closed) {
          return 'ended';
        } else if (token !== undefined && this.fragments?.pending !== true) {
          position.quiet(token);
        }
      }
      return 'stopped';
    } finally {
      stream.off('resumeTokenChanged', onToken);
      stream.off('close', onClose);
    }
  }

  /** Applies the policy; false when the stream has ended (error or stop). */
  private async historyLost(error: MongoServerError): Promise<boolean> {
    const { onHistoryLost: policy, position } = this.config;
    const lost = position.readPosition;
    this.config.report({ type: 'historyLost', error, token: lost, policy: typeof policy === 'function' ? 'function' : policy });
    if (policy === 'error') {
      this.sink.error(error);
      return false;
    }
    position.historyLost(operationTimeOf(error));
    if (policy === 'restartFromNow') return true;
    const replaced = replaceLostHistory(policy, { error, token: lost }, (change) => {
      if (this.stopped) return;
      this.sink.event(change, position.read(undefined));
      this.pacing?.endOfBatch?.();
    });
    this.cancelPolicy = replaced.cancel;
    const outcome = await replaced.done;
    this.cancelPolicy = undefined;
    if (outcome.failed && !this.stopped) this.sink.error(outcome.error);
    return !outcome.failed && !this.stopped;
  }

  private closeSoon(stream: ChangeStream<Document, TChange>): void {
    // On the next turn: the driver records the cursor id just after the aggregate's reply events.
    // Skipped if the driver meanwhile dropped that cursor to resume: the read loop closes the new one.
    setImmediate(() => {
      if (this.cursorKnown && this.stream === stream) void this.closeOnce(stream);
    });
  }

  private async closeStream(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) await this.closeOnce(stream);
  }

  private closeOnce(stream: ChangeStream<Document, TChange>): Promise<void> {
    let closing = this.closing.get(stream);
    if (closing === undefined) {
      closing = stream.close().catch(() => {
        // Closing can fail (network gone); the cursor is then dead server-side or times out there.
      });
      this.closing.set(stream, closing);
    }
    return closing;
  }
}

/** The operation time of a change, when it carries one. */
function clusterTimeOf(change: unknown): Timestamp | undefined {
  const time = (change as { clusterTime?: unknown } | null)?.clusterTime;
  return isTimestamp(time) ? time : undefined;
}
