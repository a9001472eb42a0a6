import type { ResumeToken } from 'mongodb';
import type { ChangeStreamStatus } from '../status';
import type { OplogHeadroom } from './headroom';
import type { StreamLag } from './runs';
import { clusterTimeOf, secondsOf } from './time';

/**
 * One sample of a stream's figures: the values of `RxChangeStream.metrics$`,
 * and what its OpenTelemetry instruments report.
 */
export interface StreamMetrics {
  /** When the sample was taken (the stream scheduler's clock, epoch ms). */
  readonly at: number;
  /** Changes read since the stream was made, over all its subscriptions. */
  readonly events: number;
  /** Changes read per second since the previous sample (0 in the first). */
  readonly eventsPerSecond: number;
  /** As {@link StreamLag.lagMS}. */
  readonly lagMS: number | undefined;
  /** As {@link StreamLag.unacknowledged}: the queue depth. */
  readonly unacknowledged: number;
  /** The newest `headroom$` sample's headroom, while headroom is watched; else `undefined`. */
  readonly headroomMS: number | undefined;
  /** How old the newest checkpoint position is that the stream saved (or `headroom$` loaded), in ms. */
  readonly checkpointAgeMS: number | undefined;
  /** Restarts: after errors the driver did not resume from, after history loss, and after invalidates (`onInvalidate: 'restart'`). */
  readonly restarts: number;
  /** Subscriptions running now. */
  readonly subscriptions: number;
}

/**
 * What the metrics keep between samples, learnt from `status$` and from
 * headroom samples.
 *
 * @internal
 */
export class MetricsState {
  private restarts = 0;
  private checkpointMS: number | undefined;
  /** The newest position saved since the last sample: dated when a sample needs it, not per save. */
  private savedSince: ResumeToken | undefined;
  private headroom: OplogHeadroom | undefined;
  private previous: { at: number; events: number } | undefined;

  status(status: ChangeStreamStatus): void {
    if (status.type === 'resumed' || (status.type === 'invalidated' && status.restarting)) this.restarts += 1;
    if (status.type === 'checkpointed') this.savedSince = status.token;
  }

  headroomSample(sample: OplogHeadroom): void {
    this.headroom = sample;
    if (sample.position?.source === 'checkpoint') this.checkpointAt(sample.position.timeMS);
  }

  /** Forgets the headroom once nobody watches it (it would only grow stale). */
  headroomStopped(): void {
    this.headroom = undefined;
  }

  /** Starts the events-per-second figure afresh (a new watcher of `metrics$`). */
  resetRate(): void {
    this.previous = undefined;
  }

  /** The figures at `lag.at`; `rate` moves the events-per-second baseline to this sample. */
  sample(lag: StreamLag, events: number, rate: boolean): StreamMetrics {
    const previous = this.previous;
    const seconds = previous === undefined ? 0 : (lag.at - previous.at) / 1000;
    const eventsPerSecond = previous !== undefined && seconds > 0 ? (events - previous.events) / seconds : 0;
    if (rate) this.previous = { at: lag.at, events };
    const saved = clusterTimeOf(this.savedSince);
    this.savedSince = undefined;
    if (saved !== undefined) this.checkpointAt(secondsOf(saved));
    return {
      at: lag.at,
      events,
      eventsPerSecond,
      lagMS: lag.lagMS,
      unacknowledged: lag.unacknowledged,
      headroomMS: this.headroom?.headroomMS,
      checkpointAgeMS: this.checkpointMS === undefined ? undefined : Math.max(0, lag.at - this.checkpointMS),
      restarts: this.restarts,
      subscriptions: lag.subscriptions,
    };
  }

  private checkpointAt(ms: number): void {
    if (this.checkpointMS === undefined || ms > this.checkpointMS) this.checkpointMS = ms;
  }
}
