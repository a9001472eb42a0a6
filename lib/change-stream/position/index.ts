import type { ChangeStreamOptions, ResumeToken, Timestamp } from 'mongodb';
import type { SchedulerLike } from 'rxjs';
import { CheckpointLeaseLostError } from '../../errors';
import type { RetryOptions } from '../backoff';
import { isTimestamp, type ResolvedCheckpoint } from '../options';
import type { ChangeStreamStatus } from '../status';
import type { Waits } from '../waits';
import { bounded, persist, Stopped, type CallContext } from './calls';
import { LeaseKeeper } from './lease';
import { SaveSchedule } from './schedule';
import { AcknowledgedTokens, sameToken } from './tokens';

export { Stopped } from './calls';

/** @internal */
export interface PositionConfig {
  checkpoint: ResolvedCheckpoint | undefined;
  retry: RetryOptions;
  scheduler: SchedulerLike;
  /** The subscription's waits, cut short when it closes. */
  waits: Waits;
  report(status: ChangeStreamStatus): void;
  /** The acknowledged position moved (or was loaded). */
  moved(token: ResumeToken): void;
  /** The subscription must end: a save failed for good, or the lease is lost (`leaseLost`). */
  failed(error: unknown, leaseLost: boolean): void;
}

/**
 * The one owner of a subscription's position: the newest position read
 * (where a restart reopens), the acknowledged position (what a checkpoint
 * may hold), the save schedule, the store calls with their timeouts and
 * retries, and the lease. The reader reports what it read (`read`, `quiet`,
 * `opened`, `historyLost`); subscribers and `consume()` report what they
 * handled (`acknowledged`); everything else follows from here.
 *
 * With a checkpoint, `claim()` takes the lease and loads the stored
 * position before the first cursor opens; when the store holds none, the
 * opening position is stored before the first change is delivered.
 *
 * @internal
 */
export class Position {
  private readonly tokens = new AcknowledgedTokens();
  private readonly context: CallContext | undefined;
  private readonly schedule: SaveSchedule | undefined;
  private readonly keeper: LeaseKeeper | undefined;
  /** The newest position read: where a restart reopens. */
  private resumePoint: ResumeToken | Timestamp | undefined;
  /** Where to open while nothing was read: the driver options, "now", or a time (after history loss). */
  private origin: 'options' | 'now' | Timestamp = 'options';
  private openingToStore = false;
  private lost = false;
  private closing: Promise<unknown> | undefined;

  constructor(private readonly config: PositionConfig) {
    const checkpoint = config.checkpoint;
    if (checkpoint === undefined) return;
    const { store, key } = checkpoint;
    const context: CallContext = { key, timeoutMS: checkpoint.timeoutMS, retry: config.retry, waits: config.waits, report: config.report };
    this.context = context;
    this.keeper = new LeaseKeeper({ ...checkpoint.lease, store, scheduler: config.scheduler, context, lost: (error) => this.lose(error) });
    const keeper = this.keeper;
    this.schedule = new SaveSchedule({
      events: checkpoint.events,
      ms: checkpoint.ms,
      scheduler: config.scheduler,
      save: (token) => persist('save', context, () => store.save(keeper.lease as NonNullable<typeof keeper.lease>, token)),
      saved: (token) => config.report({ type: 'checkpointed', key, token }),
      failed: (error) => {
        if (error instanceof Stopped) return;
        if (error instanceof CheckpointLeaseLostError) this.lose(error);
        else config.failed(error, false);
      },
    });
  }

  /** Sequence number of the last event read, -1 before any. */
  get lastSeq(): number {
    return this.tokens.lastSeq;
  }

  /**
   * Before the first open: takes the lease (as a standby while another
   * consumer holds it) and loads the stored position; with none, stores an
   * explicit `checkpoint.start` at once. Resolves `false` if the
   * subscription closed meanwhile; throws what ends it.
   */
  async claim(): Promise<boolean> {
    const { checkpoint } = this.config;
    if (checkpoint === undefined || this.keeper === undefined || this.context === undefined) return true;
    if ((await this.keeper.acquire()) === undefined) return false;
    const stored = await persist('load', this.context, () => checkpoint.store.load(checkpoint.key));
    if (stored != null) {
      this.startFrom(stored);
      this.schedule?.stored(stored);
      return true;
    }
    if (checkpoint.start === 'now') {
      this.openingToStore = true;
      return true;
    }
    const start = 'time' in checkpoint.start ? checkpoint.start.time : checkpoint.start.token;
    this.startFrom(start);
    await this.storeOpening(start);
    return !this.config.waits.stopped;
  }

  /** The driver options to (re)open with: after the newest position read, else from the origin. */
  startOptions(driverOptions: ChangeStreamOptions): ChangeStreamOptions {
    const options = { ...driverOptions };
    if (this.resumePoint === undefined && this.origin === 'options') return options;
    delete options.resumeAfter;
    delete options.startAfter;
    delete options.startAtOperationTime;
    const point = this.resumePoint ?? (this.origin === 'now' ? undefined : this.origin);
    // startAfter (not resumeAfter) so an invalidate token is a valid start too.
    if (isTimestamp(point)) options.startAtOperationTime = point;
    else if (point !== undefined) options.startAfter = point;
    return options;
  }

  /**
   * A cursor opened at `opening` (its first post-batch token, or the time of
   * its first change). On a first run from "now", resolves once that
   * position is stored; else at once.
   */
  async opened(opening: ResumeToken | Timestamp | undefined): Promise<void> {
    if (!this.openingToStore || opening === undefined) return;
    this.openingToStore = false;
    this.startFrom(opening);
    await this.storeOpening(opening);
  }

  /** An event was read; `token` is the position after it. Returns its sequence number. */
  read(token: ResumeToken | undefined): number {
    if (token !== undefined) this.resumePoint = token;
    return this.tokens.read(token);
  }

  /** A batch without events moved the server's position to `token`. */
  quiet(token: ResumeToken): void {
    if (sameToken(token, this.resumePoint)) return;
    this.resumePoint = token;
    if (this.tokens.quiet(token)) this.advance(token, 0);
  }

  /** The history after the position is gone: reopen at `at` (the server's time of the loss) or now. */
  historyLost(at: Timestamp | undefined): void {
    this.resumePoint = undefined;
    this.origin = at ?? 'now';
  }

  /** The newest position read, for reports. */
  get readPosition(): ResumeToken | undefined {
    return this.resumePoint;
  }

  /** Every event up to `seq` is handled. */
  acknowledged(seq: number): void {
    const { events, token } = this.tokens.acknowledge(seq);
    if (token !== undefined) this.advance(token, events);
  }

  /** See {@link SaveSchedule.backlog}. */
  backlog(): Promise<void> | undefined {
    return this.schedule?.backlog();
  }

  /**
   * Ends the position's work: stops waits and renewals, saves the newest
   * acknowledged position (bounded by `checkpoint.timeoutMS`) and gives the
   * lease up. Resolves with that last save's error, if any; never rejects.
   */
  close(): Promise<unknown> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<unknown> {
    this.config.waits.stop();
    const { checkpoint } = this.config;
    const lease = this.keeper?.lease;
    if (checkpoint === undefined || this.schedule === undefined || this.keeper === undefined || this.context === undefined) return undefined;
    if (lease === undefined || this.lost) {
      this.schedule.stop();
      // Releasing a lost lease changes nothing in the store, but lets it drop what it keeps for it locally.
      await this.keeper.release();
      return undefined;
    }
    const context = this.context;
    let error: unknown;
    try {
      await this.schedule.flush((token) => bounded('save', context, () => checkpoint.store.save(lease, token)));
    } catch (flushError) {
      error = flushError;
    }
    await this.keeper.release();
    return error;
  }

  private startFrom(point: ResumeToken | Timestamp): void {
    this.resumePoint ??= point;
    this.config.moved(point);
  }

  private async storeOpening(point: ResumeToken | Timestamp): Promise<void> {
    if (this.schedule === undefined) return;
    this.schedule.moved(point, 0);
    await this.schedule.saveNow();
  }

  private advance(token: ResumeToken, events: number): void {
    this.config.moved(token);
    this.schedule?.moved(token, events);
  }

  private lose(error: unknown): void {
    if (this.lost) return;
    this.lost = true;
    this.keeper?.stopRenewing();
    this.schedule?.stop();
    this.config.report({ type: 'leaseLost', key: this.context?.key ?? '', error });
    this.config.failed(error, true);
  }
}
