import type { MongoClient, ReadPreferenceLike, ResumeToken, Timestamp } from 'mongodb';
import { defer, exhaustMap, shareReplay, takeUntil, tap, timer, type Observable, type SchedulerLike } from 'rxjs';
import type { ResolvedCheckpoint } from '../options';
import type { ChangeStreamStatus } from '../status';
import { clusterTimeOf, secondsOf } from './time';
import { readOplogWindow, wallTimeAt, type OplogWindow } from './window';

/** The position whose headroom is measured. */
export interface HeadroomPosition {
  /** `checkpoint`: the position stored under the stream's key (what a restart resumes from); `stream`: the stream's own newest acknowledged position (no checkpoint). */
  readonly source: 'checkpoint' | 'stream';
  /** Its cluster time. */
  readonly clusterTime: Timestamp;
  /** When it was written, in epoch ms: the oplog entry's `wall` when the position is one, else its cluster time's second. */
  readonly timeMS: number;
  /** How old it is at the sample (`at − timeMS`), ms. */
  readonly ageMS: number;
}

/**
 * How much oplog is left before a position falls off it: the values of
 * `RxChangeStream.headroom$`.
 *
 * `headroomMS` is the time between the oldest entry the member keeps and
 * the position — how long until the oplog trims past the position, if it
 * keeps spanning the time it spans now (it trims by size, so the window
 * moves as fast as the clock when writes are steady). Equivalently, the
 * window minus the position's age behind the newest entry: what MongoDB
 * monitoring calls replication headroom, with the checkpoint in the role
 * of a lagging secondary. An oplog that is not full yet trims nothing, so
 * there the figure understates.
 */
export interface OplogHeadroom {
  /** When the sample was taken (the stream scheduler's clock, epoch ms). */
  readonly at: number;
  /** The oplog window of the member read, as far as it could be read. */
  readonly window: OplogWindow | undefined;
  /** The position measured; `undefined` when there is none yet (nothing stored or read). */
  readonly position: HeadroomPosition | undefined;
  /** `position.timeMS − window.first.wall`; `undefined` when either is unknown; below 0 when lost. */
  readonly headroomMS: number | undefined;
  /** The position is before the oldest entry kept: resuming from it is history lost. */
  readonly lost: boolean;
  /** `headroomMS < marginMS` (or lost). */
  readonly low: boolean;
  /** The margin `low` is judged against (`headroom.marginMS`). */
  readonly marginMS: number;
  /**
   * Why something is unknown: the oplog could not be read (no access to
   * `local`, not a replica set, no client), or the checkpoint could not be
   * loaded. Headroom never errors; it reports.
   */
  readonly unavailable?: string;
}

/** The headroom options, validated, with defaults. @internal */
export interface ResolvedHeadroom {
  marginMS: number;
  every: number;
  /** Whether the option was given: then running subscriptions keep the monitor on. */
  given: boolean;
}

/** @internal */
export interface HeadroomSource {
  driver: MongoClient | undefined;
  readPreference: ReadPreferenceLike | undefined;
  checkpoint: ResolvedCheckpoint | undefined;
  /** The stream's newest acknowledged position, for a stream without a checkpoint. */
  position(): ResumeToken | undefined;
  options: ResolvedHeadroom;
  scheduler: SchedulerLike;
  report(status: ChangeStreamStatus): void;
  /** Emits when the client closes: sampling stops. */
  closed$: Observable<unknown>;
}

/**
 * Samples the headroom every `headroom.every` ms while anyone listens, and
 * reports `headroomLow` on `status$` once each time it falls below the
 * margin (again only after it has been back above it).
 *
 * @internal
 */
export class HeadroomMonitor {
  readonly samples$: Observable<OplogHeadroom>;
  private warned = false;

  constructor(private readonly source: HeadroomSource) {
    this.samples$ = timer(0, source.options.every, source.scheduler).pipe(
      exhaustMap(() => defer(() => this.sample())),
      tap((sample) => this.judge(sample)),
      takeUntil(source.closed$),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
  }

  private judge(sample: OplogHeadroom): void {
    if (sample.headroomMS === undefined) return;
    if (!sample.low) {
      this.warned = false;
    } else if (!this.warned) {
      this.warned = true;
      this.source.report({ type: 'headroomLow', headroomMS: sample.headroomMS, marginMS: sample.marginMS, headroom: sample });
    }
  }

  /** One sample; never rejects. */
  private async sample(): Promise<OplogHeadroom> {
    const { driver, readPreference, checkpoint, options, scheduler } = this.source;
    const notes: string[] = [];
    let stored: ResumeToken | undefined;
    if (checkpoint !== undefined) {
      try {
        stored = await within(checkpoint.store.load(checkpoint.key), checkpoint.timeoutMS);
      } catch (error) {
        notes.push(`the checkpoint '${checkpoint.key}' cannot be loaded: ${error instanceof Error ? error.message : String(error)}`);
      }
    } else {
      stored = this.source.position();
    }
    const read = driver === undefined ? { window: undefined, unavailable: 'the stream has no client to read the oplog with' } : await readOplogWindow(driver, readPreference);
    if (read.unavailable !== undefined) notes.push(read.unavailable);
    const clusterTime = clusterTimeOf(stored);
    const wall = clusterTime !== undefined && driver !== undefined && read.window?.first !== undefined ? await wallTimeAt(driver, readPreference, clusterTime) : undefined;
    const at = scheduler.now();
    const position: HeadroomPosition | undefined =
      clusterTime === undefined
        ? undefined
        : (() => {
            const timeMS = wall?.getTime() ?? secondsOf(clusterTime);
            return { source: checkpoint !== undefined ? 'checkpoint' : 'stream', clusterTime, timeMS, ageMS: Math.max(0, at - timeMS) };
          })();
    return headroomOf(at, read.window, position, options.marginMS, notes);
  }
}

/** Judges a position against a window. */
export function headroomOf(at: number, window: OplogWindow | undefined, position: HeadroomPosition | undefined, marginMS: number, notes: string[] = []): OplogHeadroom {
  const first = window?.first;
  const lost = first !== undefined && position !== undefined && position.clusterTime.lessThan(first.ts);
  const span = first !== undefined && position !== undefined ? position.timeMS - first.wall.getTime() : undefined;
  // A position known to the second only may seem to precede a first entry of the same second.
  const headroomMS = span === undefined ? undefined : lost ? Math.min(0, span) : Math.max(0, span);
  return {
    at,
    window,
    position,
    headroomMS,
    lost,
    low: lost || (headroomMS !== undefined && headroomMS < marginMS),
    marginMS,
    ...(notes.length > 0 ? { unavailable: notes.join('; ') } : {}),
  };
}

/** `promise`, or a rejection after `ms`; the timer never outlives it. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
