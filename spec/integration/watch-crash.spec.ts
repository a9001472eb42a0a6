/**
 * The crash test: a consumer process (a CollectionCheckpointStore, a handler
 * slower than the reader) SIGKILLed six times while numbered documents are
 * written, the first time before it ever saved a handled change, and
 * restarted each time. Afterwards every number was handled (lost 0) and no
 * restart repeated more than `every.events` changes.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { driverClient, uniqueDbName } from '../support/backend';
import { signal, start, until, type Child } from './process-support';

const TOTAL = 1_200;
const EVERY = 20;
const HANDLER_MS = 2;
const RANDOM_KILLS = 5;

jest.setTimeout(120_000);

describe('crash test: SIGKILL a consumer six times, once before its first save', () => {
  let client: MongoClient;
  let consumer: Child | undefined;
  let work: string;
  let dbName: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rxmongo-crash-'));
    client = driverClient();
    await client.connect();
    dbName = uniqueDbName('crash');
  });

  afterAll(async () => {
    if (consumer) await signal(consumer, 'SIGKILL');
    await client.db(dbName).dropDatabase();
    await client.close();
    await rm(work, { recursive: true, force: true });
  });

  it('loses nothing and repeats at most every.events changes per kill', async () => {
    const numbers = client.db(dbName).collection('numbers');
    await client.db(dbName).createCollection('numbers');
    const processed = join(work, 'processed.log');
    const read = async (): Promise<string[]> => (await readFile(processed, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const handledSoFar = async (): Promise<number> => (await read()).filter((l) => l !== 'start').length;
    const run = async (): Promise<void> => {
      consumer = start('spec/fixtures/crash-consumer.ts', [uri(), dbName, processed, String(EVERY), String(HANDLER_MS)]);
      await consumer.line((l) => l === 'opened', 'opened');
    };
    const uri = (): string => process.env.RXMONGO_TEST_URI as string;
    let written = 0;
    const write = async (count: number): Promise<void> => {
      const docs = Array.from({ length: count }, (_, i) => ({ n: written + i + 1 }));
      written += count;
      await numbers.insertMany(docs);
    };

    // Kill 1: a first run (no checkpoint yet) that handled a few changes but never saved one.
    await run();
    await write(10);
    await until(async () => (await handledSoFar()) >= 3, 'first run handling', 30_000);
    expect(consumer!.lines.filter((l) => l === 'checkpointed')).toHaveLength(1); // only the opening position
    await signal(consumer!, 'SIGKILL');
    let kills = 1;
    await run();

    const killAt = Array.from({ length: RANDOM_KILLS }, () => Math.floor(Math.random() * (TOTAL - 200)) + 100).sort((a, b) => a - b);
    while (written < TOTAL) {
      await write(Math.min(10, TOTAL - written));
      if (kills - 1 < RANDOM_KILLS && written >= killAt[kills - 1]) {
        await signal(consumer!, 'SIGKILL');
        kills += 1;
        await run();
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    const counts = new Map<number, number>();
    await until(
      async () => {
        counts.clear();
        for (const line of await read()) if (line !== 'start') counts.set(Number(line), (counts.get(Number(line)) ?? 0) + 1);
        return counts.size === TOTAL;
      },
      'every number handled',
      60_000,
    );
    await signal(consumer!, 'SIGKILL');

    // Split the log by run; a repeat in run i is a number some earlier run handled.
    const runs: number[][] = [];
    for (const line of await read()) {
      if (line === 'start') runs.push([]);
      else runs[runs.length - 1].push(Number(line));
    }
    const seenBefore = new Set<number>();
    const repeatsPerRestart: number[] = [];
    for (const [i, handled] of runs.entries()) {
      if (i > 0) repeatsPerRestart.push(handled.filter((n) => seenBefore.has(n)).length);
      for (const n of handled) seenBefore.add(n);
    }
    const lost = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((n) => !counts.has(n));
    const duplicates = [...counts.values()].reduce((sum, c) => sum + c - 1, 0);
    console.log(
      `crash test: ${TOTAL} documents, ${kills} SIGKILLs (the first before any save; then at ~${killAt.join(', ')} written); ` +
        `lost ${lost.length}, duplicates ${duplicates} (per restart: ${repeatsPerRestart.join(', ')}; every.events ${EVERY})`,
    );
    expect(kills).toBe(RANDOM_KILLS + 1);
    expect(lost).toEqual([]);
    expect(repeatsPerRestart).toHaveLength(kills);
    for (const repeats of repeatsPerRestart) expect(repeats).toBeLessThanOrEqual(EVERY);
  });
});
