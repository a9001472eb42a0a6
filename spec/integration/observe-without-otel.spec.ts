/**
 * Without `@opentelemetry/api` (an optional peer dependency) a stream runs
 * and reports its plain metrics as usual: the failed import is swallowed.
 */
import { filter, firstValueFrom } from 'rxjs';
import { eventually } from './client-monitor';
import { fixture, insertNumbers, nextStatus, type Fixture } from './watch-support';

jest.mock('@opentelemetry/api', () => {
  throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
});

let f: Fixture;

beforeEach(async () => {
  f = await fixture('no-otel');
});

afterEach(async () => {
  await f.close();
});

it('runs and samples its metrics when OpenTelemetry is not installed', async () => {
  await expect(import('@opentelemetry/api')).rejects.toThrow('Cannot find module');
  const stream = f.numbers.watch([], { observe: { sampleMS: 20 } });
  const opened = nextStatus(stream, 'opened');
  const seen: unknown[] = [];
  const run = stream.subscribe((change) => seen.push(change));
  try {
    await opened;
    await insertNumbers(f.numbers, 1, 3);
    const sample = await firstValueFrom(stream.metrics$.pipe(filter((s) => s.events === 3)));
    expect(sample.subscriptions).toBe(1);
    await eventually(() => seen.length === 3, 'three delivered');
  } finally {
    run.unsubscribe();
  }
});
