// Types as the dynamic import below loads them (the ES module build, whichever build rxmongodb runs as).
import type { Attributes, BatchObservableResult, Meter, MeterProvider, Observable } from '@opentelemetry/api' with { 'resolution-mode': 'import' };
import type { StreamMetrics } from './metrics';

type Api = typeof import('@opentelemetry/api', { with: { 'resolution-mode': 'import' } });

/** A stream reporting to OpenTelemetry: its name, and its metrics when a reader collects. @internal */
export interface MetricsSource {
  readonly name: string;
  snapshot(): StreamMetrics;
}

/** The instruments of one meter provider, and how to unhook them from it. */
interface Bound {
  provider: MeterProvider;
  unbind(): void;
}

const sources = new Set<MetricsSource>();
let api: Promise<Api | undefined> | undefined;
let bound: Bound | undefined;

/**
 * Reports `source` to OpenTelemetry until the returned function is called.
 * `@opentelemetry/api` is imported on first use, and only then; when it is
 * not installed nothing happens (it is an optional peer dependency). The
 * instruments are made once per process on the global meter provider, and
 * made again on a new one when the application registered it later. Never
 * rejects, never throws.
 */
export function reportMetrics(source: MetricsSource): () => void {
  sources.add(source);
  const loading = (api ??= import('@opentelemetry/api').then(
    (loaded: Api) => loaded,
    () => undefined,
  ));
  void loading.then((loaded) => {
    if (loaded !== undefined && sources.has(source)) bind(loaded);
  });
  return () => {
    sources.delete(source);
  };
}

/** Makes the instruments on the global meter provider, unless they are there already. */
function bind(loaded: Api): void {
  const provider = loaded.metrics.getMeterProvider();
  if (bound?.provider === provider) return;
  bound?.unbind();
  const meter: Meter = provider.getMeter('rxmongodb');
  const { ValueType } = loaded;
  const events = meter.createObservableCounter('rxmongodb.change_stream.events', {
    description: 'Change events read by the stream (rate: events per second)',
    unit: '{event}',
    valueType: ValueType.INT,
  });
  const restarts = meter.createObservableCounter('rxmongodb.change_stream.restarts', {
    description: 'Restarts of the stream after errors the driver does not resume from, history loss or invalidates',
    unit: '{restart}',
    valueType: ValueType.INT,
  });
  const lag = meter.createObservableGauge('rxmongodb.change_stream.lag', {
    description: 'Age of the newest position the stream read: the last change delivered, or the post-batch token of a quiet stream',
    unit: 's',
  });
  const unacknowledged = meter.createObservableGauge('rxmongodb.change_stream.unacknowledged', {
    description: 'Changes read and not yet acknowledged (the queue depth)',
    unit: '{event}',
    valueType: ValueType.INT,
  });
  const headroom = meter.createObservableGauge('rxmongodb.change_stream.headroom', {
    description: 'Time between the oldest oplog entry and the position a restart would resume from',
    unit: 's',
  });
  const checkpointAge = meter.createObservableGauge('rxmongodb.change_stream.checkpoint.age', {
    description: 'Age of the newest checkpoint the stream saved or read',
    unit: 's',
  });
  const instruments: Observable[] = [events, restarts, lag, unacknowledged, headroom, checkpointAge];
  const observe = (result: BatchObservableResult): void => {
    for (const source of sources) {
      const metrics = source.snapshot();
      const attributes: Attributes = { 'rxmongodb.stream': source.name };
      result.observe(events, metrics.events, attributes);
      result.observe(restarts, metrics.restarts, attributes);
      result.observe(unacknowledged, metrics.unacknowledged, attributes);
      if (metrics.lagMS !== undefined) result.observe(lag, metrics.lagMS / 1000, attributes);
      if (metrics.headroomMS !== undefined) result.observe(headroom, metrics.headroomMS / 1000, attributes);
      if (metrics.checkpointAgeMS !== undefined) result.observe(checkpointAge, metrics.checkpointAgeMS / 1000, attributes);
    }
  };
  meter.addBatchObservableCallback(observe, instruments);
  bound = { provider, unbind: () => meter.removeBatchObservableCallback(observe, instruments) };
}
