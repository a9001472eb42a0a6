import { boolean, duration, knownKeys, object } from '../validate';
import type { ResolvedHeadroom } from './headroom';

/** How a stream reports on itself: `lag$`, `metrics$` and OpenTelemetry. */
export interface ObserveOptions {
  /** How often `lag$` and `metrics$` take a sample, in ms. Default 1000. */
  sampleMS?: number;
  /**
   * The stream's name in metrics (the `rxmongodb.stream` attribute of its
   * OpenTelemetry instruments). Default: the checkpoint key, else `'unnamed'`.
   */
  name?: string;
  /**
   * Report the stream's metrics to OpenTelemetry while it runs, when
   * `@opentelemetry/api` is installed (it is an optional peer dependency;
   * without it nothing is loaded). Default `true`.
   */
  openTelemetry?: boolean;
}

/** When `headroom$` samples, and when `status$` warns that the position nears the end of the oplog. */
export interface HeadroomOptions {
  /**
   * Warn (`headroomLow` on `status$`) when the position is closer than this
   * to falling off the oplog, in ms. Default 3 600 000 (one hour, the
   * threshold of Atlas' default oplog-window alert). `Infinity` warns
   * whatever the headroom.
   */
  marginMS?: number;
  /** How often the oplog window and the stored checkpoint are read, in ms. Default 60 000. */
  every?: number;
}

/** @internal */
export interface ResolvedObserve {
  sampleMS: number;
  name: string | undefined;
  openTelemetry: boolean;
  headroom: ResolvedHeadroom;
}

const DEFAULTS = Object.freeze({ sampleMS: 1000, marginMS: 3_600_000, every: 60_000 });

/**
 * Validates the `observe` and `headroom` options of `watch()`; throws
 * `TypeError`/`RangeError` naming the option.
 *
 * @internal
 */
export function resolveObserve(observe: unknown, headroom: unknown): ResolvedObserve {
  const given = object('observe', observe) ?? {};
  knownKeys('observe', given, ['sampleMS', 'name', 'openTelemetry']);
  const name = given.name;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new TypeError(`observe.name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`);
  }
  const room = object('headroom', headroom);
  if (room !== undefined) knownKeys('headroom', room, ['marginMS', 'every']);
  return {
    sampleMS: duration('observe.sampleMS', given.sampleMS, DEFAULTS.sampleMS, { min: 1 }),
    name,
    openTelemetry: boolean('observe.openTelemetry', given.openTelemetry, true),
    headroom: {
      marginMS: duration('headroom.marginMS', room?.marginMS, DEFAULTS.marginMS, { infinity: true }),
      every: duration('headroom.every', room?.every, DEFAULTS.every, { min: 1 }),
      given: room !== undefined,
    },
  };
}
