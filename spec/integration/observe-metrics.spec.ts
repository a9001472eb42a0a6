/**
 * `metrics$` and the OpenTelemetry instruments on the run's backend: events
 * and their rate, lag, queue depth, checkpoint age and restarts, as plain
 * samples and as what an in-memory OpenTelemetry reader collects.
 */
import { metrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { filter, firstValueFrom, type Subscription } from 'rxjs';
import { MemoryCheckpointStore, type StreamMetrics } from '../../lib';
import { eventually } from './client-monitor';
import { fixture, insertNumbers, nextStatus, type Fixture } from './watch-support';

/** Collects when asked, as a Prometheus scrape would. */
class OnDemandReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const sampleMS = 25;
let f: Fixture;
let reader: OnDemandReader;
let provider: MeterProvider;
const running: Subscription[] = [];

beforeAll(() => {
  reader = new OnDemandReader();
  provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
});

afterAll(async () => {
  metrics.disable();
  await provider.shutdown();
});

beforeEach(async () => {
  f = await fixture('metrics');
});

afterEach(async () => {
  for (const s of running.splice(0)) s.unsubscribe();
  await f.close();
});

/** The rxmongodb metrics a collection finds, by name. */
async function collect(): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === 'rxmongodb');
  return new Map((scope?.metrics ?? []).map((m) => [m.descriptor.name, m]));
}

/** The value a metric reports for the stream named `stream`, if any. */
function pointOf(found: Map<string, MetricData>, name: string, stream: string): number | undefined {
  const metric = found.get(name);
  const point = metric?.dataPoints.find((p) => p.attributes['rxmongodb.stream'] === stream);
  return point === undefined ? undefined : (point.value as number);
}

it('samples events, their rate, lag, queue depth and checkpoint age', async () => {
  const store = new MemoryCheckpointStore();
  const stream = f.numbers.watch([], { checkpoint: { store, key: 'projector', every: { events: 5 } }, observe: { sampleMS } });
  const samples: StreamMetrics[] = [];
  running.push(stream.metrics$.subscribe((s) => samples.push(s)));
  const opened = nextStatus(stream, 'opened');
  let handled = 0;
  running.push(stream.consume(() => void (handled += 1)).subscribe());
  await opened;
  await insertNumbers(f.numbers, 1, 20, 5);
  await eventually(() => handled === 20, 'twenty handled');
  const settled = await firstValueFrom(stream.metrics$.pipe(filter((s) => s.events === 20 && s.checkpointAgeMS !== undefined)));
  expect(settled).toMatchObject({ unacknowledged: 0, subscriptions: 1, restarts: 0, headroomMS: undefined });
  expect(settled.lagMS).toBeGreaterThanOrEqual(0);
  expect(settled.checkpointAgeMS).toBeGreaterThanOrEqual(0);
  // Each sample's rate is the events since the one before, over the time between them.
  for (let i = 1; i < samples.length; i++) {
    const [before, after] = [samples[i - 1], samples[i]];
    expect(after.eventsPerSecond).toBeCloseTo((after.events - before.events) / ((after.at - before.at) / 1000), 6);
  }
  expect(samples[0].eventsPerSecond).toBe(0);
  expect(samples.some((s) => s.eventsPerSecond > 0)).toBe(true);
});

it('counts a restart after an invalidate', async () => {
  const stream = f.numbers.watch([], { onInvalidate: 'restart', observe: { sampleMS } });
  const opened = nextStatus(stream, 'opened');
  running.push(stream.subscribe());
  await opened;
  const invalidated = nextStatus(stream, 'invalidated');
  await f.numbers.driver.drop();
  await invalidated;
  const after = await firstValueFrom(stream.metrics$.pipe(filter((s) => s.restarts === 1)));
  expect(after.subscriptions).toBe(1);
});

it('reports to OpenTelemetry while the stream runs, named by its checkpoint key', async () => {
  const store = new MemoryCheckpointStore();
  const stream = f.numbers.watch([], { checkpoint: { store, key: 'otel-projector', every: { events: 1 } } });
  const opened = nextStatus(stream, 'opened');
  let handled = 0;
  running.push(stream.consume(() => void (handled += 1)).subscribe());
  await opened;
  await insertNumbers(f.numbers, 1, 7, 1);
  await eventually(() => handled === 7, 'seven handled');
  const found = await collect();
  expect(found.get('rxmongodb.change_stream.events')?.dataPointType).toBe(DataPointType.SUM);
  expect(found.get('rxmongodb.change_stream.events')?.descriptor.unit).toBe('{event}');
  expect(pointOf(found, 'rxmongodb.change_stream.events', 'otel-projector')).toBe(7);
  expect(pointOf(found, 'rxmongodb.change_stream.restarts', 'otel-projector')).toBe(0);
  expect(pointOf(found, 'rxmongodb.change_stream.unacknowledged', 'otel-projector')).toBe(0);
  expect(found.get('rxmongodb.change_stream.lag')?.descriptor.unit).toBe('s');
  expect(pointOf(found, 'rxmongodb.change_stream.lag', 'otel-projector')).toBeGreaterThanOrEqual(0);
  expect(pointOf(found, 'rxmongodb.change_stream.checkpoint.age', 'otel-projector')).toBeGreaterThanOrEqual(0);
  // Headroom is reported only while it is watched (the `headroom` option, or a headroom$ subscriber).
  expect(pointOf(found, 'rxmongodb.change_stream.headroom', 'otel-projector')).toBeUndefined();
});

it('reports headroom while it is watched, and names a stream by observe.name', async () => {
  const stream = f.numbers.watch([], { observe: { name: 'orders-feed' }, headroom: { every: 20 } });
  const opened = nextStatus(stream, 'opened');
  running.push(stream.subscribe());
  await opened;
  await insertNumbers(f.numbers, 1, 1);
  await firstValueFrom(stream.headroom$.pipe(filter((s) => s.headroomMS !== undefined)));
  const found = await collect();
  expect(pointOf(found, 'rxmongodb.change_stream.headroom', 'orders-feed')).toBeGreaterThanOrEqual(0);
  expect(pointOf(found, 'rxmongodb.change_stream.events', 'orders-feed')).toBe(1);
});

it('reports nothing with observe.openTelemetry: false', async () => {
  const stream = f.numbers.watch([], { observe: { name: 'quiet-one', openTelemetry: false } });
  const opened = nextStatus(stream, 'opened');
  running.push(stream.subscribe());
  await opened;
  await insertNumbers(f.numbers, 1, 2);
  await firstValueFrom(stream.metrics$.pipe(filter((s) => s.events === 2)));
  expect(pointOf(await collect(), 'rxmongodb.change_stream.events', 'quiet-one')).toBeUndefined();
});
