/**
 * What a stream tells about itself, apart from its changes: `lag$`,
 * `headroom$`, `metrics$`, the `headroomLow` warning and OpenTelemetry
 * metrics. Samples on timers; nothing here runs per event.
 */
import type { ReadPreferenceLike, ResumeToken } from 'mongodb';
import {
  defer,
  distinctUntilChanged,
  EMPTY,
  fromEventPattern,
  map,
  NEVER,
  shareReplay,
  switchMap,
  takeUntil,
  tap,
  timer,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { StreamOwner } from '../config';
import type { ResolvedCheckpoint } from '../options';
import type { ChangeStreamStatus } from '../status';
import { HeadroomMonitor, type OplogHeadroom } from './headroom';
import { MetricsState, type StreamMetrics } from './metrics';
import type { ResolvedObserve } from './options';
import { reportMetrics } from './otel';
import { StreamRuns, type StreamLag } from './runs';

export type { HeadroomPosition, OplogHeadroom } from './headroom';
export type { StreamMetrics } from './metrics';
export type { HeadroomOptions, ObserveOptions } from './options';
export type { StreamLag } from './runs';
export type { OplogEntryTime, OplogWindow } from './window';

/** @internal */
export interface ObserverConfig {
  observe: ResolvedObserve;
  checkpoint: ResolvedCheckpoint | undefined;
  readPreference: ReadPreferenceLike | undefined;
  scheduler: SchedulerLike;
  owner: StreamOwner | undefined;
  /** The stream's newest acknowledged position. */
  position(): ResumeToken | undefined;
  report(status: ChangeStreamStatus): void;
}

/**
 * One stream's observer: the runs it samples, the headroom monitor, the
 * metrics state, and the OpenTelemetry registration while runs are active.
 *
 * @internal
 */
export class StreamObserver {
  readonly runs = new StreamRuns();
  readonly lag$: Observable<StreamLag>;
  readonly headroom$: Observable<OplogHeadroom>;
  readonly metrics$: Observable<StreamMetrics>;
  private readonly state = new MetricsState();

  constructor(private readonly config: ObserverConfig) {
    const { observe, scheduler, owner } = config;
    // Sampling ends with the client: nothing it could read is left, and no timer may outlive it.
    const closed$ = owner === undefined ? NEVER : fromEventPattern<void>((handler) => owner.onClose(() => handler()), (_, unhook: () => void) => unhook());
    const monitor = new HeadroomMonitor({
      driver: owner?.driver,
      readPreference: config.readPreference,
      checkpoint: config.checkpoint,
      position: config.position,
      options: observe.headroom,
      scheduler,
      report: config.report,
      closed$,
    });
    this.headroom$ = defer(() => monitor.samples$).pipe(
      tap({ next: (sample) => this.state.headroomSample(sample), finalize: () => this.state.headroomStopped() }),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
    const ticks$ = timer(0, observe.sampleMS, scheduler).pipe(takeUntil(closed$));
    this.lag$ = ticks$.pipe(
      map(() => this.runs.lag(scheduler.now())),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
    this.metrics$ = defer(() => {
      this.state.resetRate();
      return ticks$;
    }).pipe(
      map(() => this.sample(true)),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
  }

  /** Taps the stream's statuses, for the metrics. */
  status(status: ChangeStreamStatus): void {
    this.state.status(status);
  }

  /**
   * While the stream has running subscriptions: keeps headroom watched when
   * the `headroom` option was given, and reports to OpenTelemetry unless
   * `observe.openTelemetry` is `false`. Returns what stops it.
   */
  watchWhileRunning(): Subscription {
    const { observe, checkpoint } = this.config;
    const name = observe.name ?? checkpoint?.key ?? 'unnamed';
    return this.runs.count$
      .pipe(
        map((count) => count > 0),
        distinctUntilChanged(),
        switchMap((running) => {
          if (!running) return EMPTY;
          const unreport = observe.openTelemetry ? reportMetrics({ name, snapshot: () => this.sample(false) }) : undefined;
          const watched = observe.headroom.given ? this.headroom$ : NEVER;
          return watched.pipe(tap({ finalize: () => unreport?.() }));
        }),
      )
      .subscribe();
  }

  private sample(rate: boolean): StreamMetrics {
    const lag = this.runs.lag(this.config.scheduler.now());
    return this.state.sample(lag, this.runs.events, rate);
  }
}
