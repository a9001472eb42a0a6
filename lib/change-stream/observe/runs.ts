import type { ResumeToken, Timestamp } from 'mongodb';
import { BehaviorSubject } from 'rxjs';
import { changeTimeOf, clusterTimeOf, secondsOf } from './time';

/** What `lag$` and the metrics read of a running subscription, when they sample. @internal */
export interface ObservedRun {
  readonly position: {
    /** Sequence number of the last event read, -1 before any. */
    readonly lastSeq: number;
    readonly unacknowledged: number;
    /** The newest position read: the token after the last event, or a quiet batch's post-batch token. */
    readonly readPosition: ResumeToken | undefined;
  };
  /** The last change handed on. */
  readonly lastChange: unknown;
}

/** Watches a stream's runs; each run attaches when it starts. @internal */
export interface RunObserver {
  /** Returns the function the run calls once it has ended. */
  attach(run: ObservedRun): () => void;
}

/**
 * How far behind a stream is, at one moment: the values of
 * `RxChangeStream.lag$`.
 */
export interface StreamLag {
  /** When the sample was taken (the stream scheduler's clock, epoch ms). */
  readonly at: number;
  /**
   * How old the newest position read is, in ms: `at` minus the time of the
   * last change delivered (its `wallTime`, ms, on MongoDB 6.0+; else its
   * `clusterTime`, s) — or, when the stream has read past it without
   * changes (a quiet or filtered stream), of the post-batch resume token
   * (s). The worst of the stream's subscriptions; `undefined` while none
   * has read anything. Compares this machine's clock with the server's, so
   * clock skew shows in it (never below 0).
   */
  readonly lagMS: number | undefined;
  /** The cluster time `lagMS` is measured from. */
  readonly clusterTime: Timestamp | undefined;
  /** Whether `lagMS` comes from a post-batch token (the stream read past its last change) rather than a change. */
  readonly quiet: boolean;
  /**
   * Changes read but not yet acknowledged, over all the stream's
   * subscriptions: for plain subscribers, not yet handed to every one of
   * them; for `consume()`, queued or in the handler. The queue depth.
   */
  readonly unacknowledged: number;
  /** Subscriptions running now (the shared one behind plain subscribers, and each `consume()`). */
  readonly subscriptions: number;
}

/**
 * The runs of one stream, and the counts that outlive them: what the
 * stream's `lag$` and metrics sample. Nothing here runs per event; a run
 * keeps its own last change and sequence number, read at sample time.
 *
 * @internal
 */
export class StreamRuns implements RunObserver {
  /** How many runs are attached now. */
  readonly count$ = new BehaviorSubject(0);
  private readonly runs = new Set<ObservedRun>();
  private retiredEvents = 0;

  attach(run: ObservedRun): () => void {
    this.runs.add(run);
    this.count$.next(this.runs.size);
    return () => {
      if (!this.runs.delete(run)) return;
      this.retiredEvents += run.position.lastSeq + 1;
      this.count$.next(this.runs.size);
    };
  }

  /** Changes read since the stream was made, over all its runs. */
  get events(): number {
    let events = this.retiredEvents;
    for (const run of this.runs) events += run.position.lastSeq + 1;
    return events;
  }

  /** The stream's lag at `now`. */
  lag(now: number): StreamLag {
    let worst: { ms: number; clusterTime: Timestamp | undefined; quiet: boolean } | undefined;
    let unacknowledged = 0;
    for (const run of this.runs) {
      unacknowledged += run.position.unacknowledged;
      const newest = newestTime(run);
      if (newest !== undefined && (worst === undefined || newest.ms < worst.ms)) worst = newest;
    }
    return {
      at: now,
      lagMS: worst === undefined ? undefined : Math.max(0, now - worst.ms),
      clusterTime: worst?.clusterTime,
      quiet: worst?.quiet ?? false,
      unacknowledged,
      subscriptions: this.runs.size,
    };
  }
}

/** The time of a run's newest position read: its last change's, or a later post-batch token's. */
function newestTime(run: ObservedRun): { ms: number; clusterTime: Timestamp | undefined; quiet: boolean } | undefined {
  const read = clusterTimeOf(run.position.readPosition);
  const change = changeTimeOf(run.lastChange);
  const quiet = read !== undefined && (change.clusterTime === undefined || read.greaterThan(change.clusterTime));
  if (quiet) {
    // A token has whole seconds only: a change later in that second is the better time.
    return { ms: Math.max(secondsOf(read), change.ms ?? -Infinity), clusterTime: read, quiet: true };
  }
  if (change.ms === undefined) return undefined;
  return { ms: change.ms, clusterTime: change.clusterTime, quiet: false };
}
