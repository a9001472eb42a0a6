import type { ChangeStream, ChangeStreamOptions, Document, MongoServerError, ResumeToken, Timestamp } from 'mongodb';
import { from, type ObservableInput, type SchedulerLike, type Subscription } from 'rxjs';
import { backoffDelay, type RetryOptions } from './backoff';
import { classifyError, operationTimeOf } from './classify';
import type { ChangeStreamStatus } from './status';
import { sameToken } from './token-tracker';

/**
 * Opens a driver change stream (nothing is sent until it is read), e.g.
 * `(pipeline, options) => collection.watch(pipeline, options)`.
 */
export type OpenChangeStream<TChange extends Document> = (
  pipeline: Document[],
  options: ChangeStreamOptions,
) => ChangeStream<Document, TChange>;

/** What the stream receives when the server's history after its position is gone. */
export interface HistoryLostInfo {
  /** The server's `ChangeStreamHistoryLost` (286) error, unchanged. */
  readonly error: MongoServerError;
  /** The position that can no longer be resumed from. */
  readonly token: ResumeToken | undefined;
}

/**
 * `'error'`: the stream errors with the server's error. `'restartFromNow'`:
 * the stream reopens at the moment the loss was detected, the events in
 * between are gone. A function: its Observable's values are delivered as
 * changes (they move no checkpoint) — e.g. a re-read of the current state —
 * then the stream reopens at the moment the loss was detected; its error
 * errors the stream. Every occurrence is reported on `status$` and waits a
 * backoff delay, so a persistent loss cannot spin.
 */
export type HistoryLostPolicy<TChange> = 'error' | 'restartFromNow' | ((info: HistoryLostInfo) => ObservableInput<TChange>);

export interface ReaderConfig<TChange extends Document> {
  open: OpenChangeStream<TChange>;
  pipeline: Document[];
  /** The user's driver options; start options are replaced once a position is known. */
  driverOptions: ChangeStreamOptions;
  /** Loads the start position (a checkpoint) before the first open; retried like opens. */
  loadStart?: () => Promise<ResumeToken | undefined>;
  retry: RetryOptions;
  onHistoryLost: HistoryLostPolicy<TChange>;
  onInvalidate: 'complete' | 'restart';
  scheduler: SchedulerLike;
  report(status: ChangeStreamStatus): void;
}

export interface ReaderSink<TChange> {
  /** A change; `token` is the position after it (`undefined` for history-lost replacements). */
  event(change: TChange, token: ResumeToken | undefined): void;
  /** A batch without changes moved the position to `token`. */
  quiet(token: ResumeToken): void;
  error(error: unknown): void;
  complete(): void;
}

/** Paces reads for a consumer with a bounded buffer. */
export interface ReadPacing {
  /** Whether the next `tryNext()` may run, given the events the driver holds. */
  mayRead(driverBuffered: number): boolean;
  /** Resolves when `mayRead` may have become true. */
  whenReady(): Promise<void>;
}

type Origin = 'options' | 'now' | Timestamp;
type Ending = 'invalidated' | 'ended' | 'stopped';

/**
 * Reads one logical change stream through as many driver `ChangeStream`s as
 * it takes: iterates with `tryNext()` (so it sees the post-batch token of
 * empty batches, and reads only when paced to), leaves resumable errors to
 * the driver, restarts after the errors the driver surfaces with backoff
 * from the last position read, and applies the history-lost and invalidate
 * policies. Fatal errors go to the sink at once.
 */
export class ChangeStreamReader<TChange extends Document> {
  private stopped = false;
  private signalStop!: () => void;
  private readonly stopSignal = new Promise<void>((resolve) => (this.signalStop = resolve));
  private position: ResumeToken | undefined;
  private origin: Origin = 'options';
  private everOpened = false;
  private stream: ChangeStream<Document, TChange> | undefined;
  private policy: Subscription | undefined;
  private done: Promise<void> | undefined;

  constructor(
    private readonly config: ReaderConfig<TChange>,
    private readonly sink: ReaderSink<TChange>,
    private readonly pacing?: ReadPacing,
  ) {}

  start(): void {
    this.done ??= this.run();
  }

  /**
   * Stops reading and closes the driver stream (killCursors). Resolves when
   * the last cursor is closed; the sink hears nothing more.
   */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.signalStop();
      this.policy?.unsubscribe();
      const stream = this.stream;
      // On the next turn, so a cursor whose aggregate reply is being processed has its id and is killed.
      if (stream !== undefined) setImmediate(() => void closeQuietly(stream));
    }
    return this.done ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    let failures = 0;
    let cause: unknown;
    let loaded = this.config.loadStart === undefined;
    try {
      while (!this.stopped) {
        let ending: Ending;
        try {
          if (!loaded) {
            this.position = await this.config.loadStart?.();
            loaded = true;
            if (this.stopped) return;
          }
          const stream = this.openStream();
          ending = await this.readFrom(
            stream,
            (token) => {
              if (!this.everOpened) {
                this.everOpened = true;
                this.config.report({ type: 'opened', token });
              } else if (failures > 0) {
                this.config.report({ type: 'resumed', attempt: failures, error: cause, token });
              }
            },
            () => {
              failures = 0;
              cause = undefined;
            },
          );
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
          await this.sleep(delayMS);
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
    const options: ChangeStreamOptions = { ...this.config.driverOptions };
    const origin = this.origin;
    if (this.position !== undefined || origin !== 'options') {
      delete options.resumeAfter;
      delete options.startAfter;
      delete options.startAtOperationTime;
      // startAfter (not resumeAfter) so an invalidate token is a valid start too.
      if (this.position !== undefined) options.startAfter = this.position;
      else if (origin !== 'now' && origin !== 'options') options.startAtOperationTime = origin;
    }
    this.stream = this.config.open(this.config.pipeline, options);
    return this.stream;
  }

  private async readFrom(
    stream: ChangeStream<Document, TChange>,
    onOpen: (token: ResumeToken | undefined) => void,
    onRead: () => void,
  ): Promise<Ending> {
    let open = false;
    const opened = (): void => {
      if (open || this.stopped) return;
      open = true;
      onOpen(stream.resumeToken ?? undefined);
    };
    // The driver sets a token from the aggregate reply itself, before the first getMore.
    stream.once('resumeTokenChanged', opened);
    try {
      while (!this.stopped) {
        if (this.pacing !== undefined && !this.pacing.mayRead(stream.bufferedCount())) {
          await Promise.race([this.pacing.whenReady(), this.stopSignal]);
          continue;
        }
        const change = await stream.tryNext();
        if (this.stopped) break;
        opened();
        onRead();
        const token: ResumeToken | undefined = stream.resumeToken ?? undefined;
        if (change !== null) {
          if (token !== undefined) this.position = token;
          this.sink.event(change, token);
          if (this.stopped) break;
          if ((change as { operationType?: unknown }).operationType === 'invalidate') {
            this.config.report({ type: 'invalidated', token, restarting: this.config.onInvalidate === 'restart' });
            return 'invalidated';
          }
        } else if (stream.closed) {
          return 'ended';
        } else if (token !== undefined && !sameToken(token, this.position)) {
          this.position = token;
          this.sink.quiet(token);
        }
      }
      return 'stopped';
    } finally {
      stream.off('resumeTokenChanged', opened);
    }
  }

  /** Applies the policy; false when the stream has ended (error or stop). */
  private async historyLost(error: MongoServerError): Promise<boolean> {
    const policy = this.config.onHistoryLost;
    const lost = this.position;
    this.config.report({
      type: 'historyLost',
      error,
      token: lost,
      policy: typeof policy === 'function' ? 'function' : policy,
    });
    if (policy === 'error') {
      this.sink.error(error);
      return false;
    }
    this.position = undefined;
    this.origin = operationTimeOf(error) ?? 'now';
    if (policy === 'restartFromNow') return true;
    return this.replace(policy, { error, token: lost });
  }

  /** Delivers the history-lost function's Observable; true when it completed. */
  private replace(policy: (info: HistoryLostInfo) => ObservableInput<TChange>, info: HistoryLostInfo): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const fail = (err: unknown): void => {
        resolve(false);
        if (!this.stopped) this.sink.error(err);
      };
      let replacement: ObservableInput<TChange>;
      try {
        replacement = policy(info);
      } catch (err) {
        return fail(err);
      }
      this.policy = from(replacement).subscribe({
        next: (change) => {
          if (!this.stopped) this.sink.event(change, undefined);
        },
        error: fail,
        complete: () => resolve(!this.stopped),
      });
      void this.stopSignal.then(() => resolve(false));
    });
  }

  private sleep(ms: number): Promise<void> {
    let timer: Subscription | undefined;
    return Promise.race([
      new Promise<void>((resolve) => {
        timer = this.config.scheduler.schedule(resolve, ms);
      }),
      this.stopSignal,
    ]).finally(() => timer?.unsubscribe());
  }

  private async closeStream(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) await closeQuietly(stream);
  }
}

/** Closing can fail (network gone); the cursor is then dead server-side or times out there. */
async function closeQuietly(stream: ChangeStream<Document, Document>): Promise<void> {
  try {
    await stream.close();
  } catch {
    // nothing to report to: the subscription that owned it is gone
  }
}
