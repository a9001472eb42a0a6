/**
 * `npm run demo`: the live cluster dashboard. Starts the embedded default
 * server (the server ladder: MONGODB_URI → mongodb-memory-server replica set
 * → the wire test server as a 3-member replica set), a load generator
 * writing to a few collections, and the dashboard; prints its URL.
 * Ctrl-C (or SIGTERM) stops everything.
 *
 *   npm run demo -- --port 8030 --host 127.0.0.1
 *
 * The lag and headroom tile: headroom counts as low below
 * `--headroom-margin` seconds (default 60). On the wire test server the
 * oplog keeps `--history-size` entries (default 6000, a few minutes of the
 * load), so its window moves while you watch; a real mongod keeps its own.
 */
import { parseArgs } from 'node:util';
import { lastValueFrom } from 'rxjs';
import { redactConnectionString, RxMongoClient } from '../lib';
import { startBackend } from '../spec/support/ladder';
import { startDashboard } from './dashboard/server';
import { loadGenerator } from './load-generator';

const DATABASE = 'rxmongo_demo';

const BACKEND_LABELS: Record<string, string> = {
  uri: 'the deployment at MONGODB_URI',
  'memory-server': 'mongodb-memory-server: a real 3-member mongod replica set',
  wire: 'rxmongo wire test server: a 3-member replica-set test double, not MongoDB',
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8030' },
      host: { type: 'string', default: '127.0.0.1' },
      period: { type: 'string', default: '50' },
      'headroom-margin': { type: 'string', default: '60' },
      'history-size': { type: 'string', default: '6000' },
    },
  });
  const port = integer(values.port, '--port', 0, 65535);
  const periodMs = integer(values.period, '--period', 1, 60_000);
  const headroomMarginMS = integer(values['headroom-margin'], '--headroom-margin', 0, 2_000_000) * 1000;
  const historySize = integer(values['history-size'], '--history-size', 10, 10_000_000);

  const backend = await startBackend({ members: 3, historySize });
  console.log(`server: ${backend.kind} (${backend.reason})`);
  console.log(`mongodb: ${redactConnectionString(backend.uri)}`);
  // Heartbeats every second make round-trip times and failovers show up quickly.
  const client = new RxMongoClient(backend.uri, { appName: 'rxmongo-demo', heartbeatFrequencyMS: 1000 });
  let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
  let writes = 0;
  let retries = 0;
  let lastRetryMessage = '';
  const onRetry = (error: unknown): void => {
    const message = error instanceof Error ? error.message : String(error);
    if (message !== lastRetryMessage) console.log(`load: a write failed and is being retried: ${message}`);
    lastRetryMessage = message;
  };
  const load = loadGenerator(client.db(DATABASE), { periodMs, onRetry }).subscribe({
    next: (written) => {
      writes += 1;
      retries += written.retries;
      lastRetryMessage = '';
    },
    error: (error: unknown) => console.error('load generator stopped:', error),
  });
  const report = setInterval(() => console.log(`load: ${writes} writes, ${retries} retried`), 30_000);

  let stopping = false;
  const stop = (signal: string, exitCode = 0): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    clearInterval(report);
    load.unsubscribe();
    (async () => {
      await dashboard?.close();
      await lastValueFrom(client.close(), { defaultValue: undefined });
      await backend.stop();
    })().then(
      () => {
        console.log('stopped cleanly');
        process.exit(exitCode);
      },
      (error: unknown) => {
        console.error('error while stopping:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  try {
    dashboard = await startDashboard({
      client,
      database: DATABASE,
      port,
      host: values.host,
      backend: { label: BACKEND_LABELS[backend.kind] ?? backend.kind, reason: backend.reason },
      observe: { headroomMarginMS },
    });
  } catch (error) {
    const hint = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? ` (port ${port} is taken; pass --port)` : '';
    console.error(`cannot start the dashboard${hint}:`, (error as Error).message);
    stop('startup failure', 1);
    return;
  }
  console.log(`dashboard: ${dashboard.url}`);
  console.log('press Ctrl-C to stop');
}

function integer(text: string | undefined, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
