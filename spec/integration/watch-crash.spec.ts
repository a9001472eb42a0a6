/**
 * The crash test: a consumer process with a FileCheckpointStore, SIGKILLed
 * at five random moments while a producer writes 2,000 numbered documents to
 * the CLI wire test server, and restarted each time. Afterwards every number
 * was processed (zero loss), and each restart repeated at most one
 * checkpoint batch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';

const ROOT = join(__dirname, '..', '..');
const TOTAL = 2_000;
const CRASHES = 5;
const BATCH = 20;

jest.setTimeout(240_000);

/** Starts `script` under node with tsx; resolves with the process and its stdout lines. */
function start(script: string, args: string[]): { child: ChildProcess; lines: string[]; firstLine: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (lines.length === 1) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before printing: ${stderr}`)));
  });
  firstLine.catch(() => {});
  return { child, lines, firstLine };
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('crash test: SIGKILL a FileCheckpointStore consumer five times', () => {
  let server: ChildProcess | undefined;
  let consumer: ChildProcess | undefined;
  let client: MongoClient | undefined;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rxmongo-crash-'));
  });

  afterAll(async () => {
    if (consumer) await stop(consumer, 'SIGKILL');
    await client?.close();
    if (server) await stop(server, 'SIGTERM');
    await rm(work, { recursive: true, force: true });
  });

  it('loses nothing and repeats at most one checkpoint batch per crash', async () => {
    const wire = start('spec/server/cli.ts', ['--members', '3', '--port', '0']);
    server = wire.child;
    const uri = await wire.firstLine;
    client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
    const dbName = `crash_${process.pid}`;
    await client.db(dbName).createCollection('numbers');

    const checkpoints = join(work, 'checkpoints');
    const processed = join(work, 'processed.log');
    const runConsumer = async (): Promise<void> => {
      const run = start('spec/fixtures/crash-consumer.ts', [uri, dbName, checkpoints, processed, String(BATCH)]);
      consumer = run.child;
      await run.firstLine; // 'opened'
    };

    await runConsumer();
    // Production starts only once a position is on disk, so even the first run's start is durable.
    await until(() => existsSync(join(checkpoints, 'crash.checkpoint.json')), 'first checkpoint', 30_000);

    const killAt = Array.from({ length: CRASHES }, () => Math.floor(Math.random() * (TOTAL - 100)) + 50).sort((a, b) => a - b);
    let written = 0;
    let crashes = 0;
    while (written < TOTAL) {
      const chunk = Math.min(10, TOTAL - written);
      await client.db(dbName).collection('numbers').insertMany(Array.from({ length: chunk }, (_, i) => ({ n: written + i + 1 })));
      written += chunk;
      if (crashes < CRASHES && written >= killAt[crashes]) {
        await stop(consumer!, 'SIGKILL');
        crashes += 1;
        await runConsumer();
      }
      await new Promise((resolve) => setTimeout(resolve, 15));
    }

    const counts = new Map<number, number>();
    const read = async (): Promise<string[]> => (await readFile(processed, 'utf8')).split('\n').filter(Boolean);
    await until(
      async () => {
        const lines = await read();
        counts.clear();
        for (const line of lines) if (line !== 'start') counts.set(Number(line), (counts.get(Number(line)) ?? 0) + 1);
        return counts.size === TOTAL;
      },
      'every number processed',
      120_000,
    );
    await stop(consumer!, 'SIGKILL');

    // Split the log by run; a repeat in run i is a number some earlier run processed.
    const runs: number[][] = [];
    for (const line of await read()) {
      if (line === 'start') runs.push([]);
      else runs[runs.length - 1].push(Number(line));
    }
    const seenBefore = new Set<number>();
    const repeatsPerRestart: number[] = [];
    for (const [i, run] of runs.entries()) {
      if (i > 0) repeatsPerRestart.push(run.filter((n) => seenBefore.has(n)).length);
      for (const n of run) seenBefore.add(n);
    }
    const missing = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((n) => !counts.has(n));
    const duplicates = [...counts.values()].reduce((sum, c) => sum + c - 1, 0);
    console.log(
      `crash test: ${TOTAL} documents, ${crashes} SIGKILLs at ${killAt.join(', ')} written; ` +
        `${missing.length} lost, ${duplicates} duplicates (per restart: ${repeatsPerRestart.join(', ')}; batch ${BATCH})`,
    );
    expect(crashes).toBe(CRASHES);
    expect(missing).toEqual([]);
    expect(repeatsPerRestart).toHaveLength(CRASHES);
    for (const repeats of repeatsPerRestart) expect(repeats).toBeLessThanOrEqual(BATCH);
  });
});
