/**
 * The exactly-once kill test: a transactional consumer process
 * (spec/fixtures/transactional-consumer.ts) projects a log of numbered
 * entries into per-entry application counts and per-account totals, and is
 * SIGKILLed in the middle of a transaction — after its handlers began
 * writing a batch and before that batch committed — at least five times
 * while a producer keeps writing, and restarted each time. Afterwards every
 * entry was applied exactly once (every count is 1) and the totals equal a
 * recomputation from the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { MongoClient } from 'mongodb';
import { driverClient, uniqueDbName } from '../support/backend';

const ROOT = join(__dirname, '..', '..');
const TOTAL = 1_000;
const MID_TRANSACTION_KILLS = 5;
const BATCH = 20;
const LEASE_TTL_MS = 1_500;

jest.setTimeout(300_000);

interface Consumer {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
}

function startConsumer(uri: string, dbName: string): Consumer {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'spec/fixtures/transactional-consumer.ts'), uri, dbName, String(BATCH), String(LEASE_TTL_MS)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  return { child, lines, stderr: () => stderr };
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms: number, consumer?: Consumer): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (consumer?.child.exitCode != null) throw new Error(`consumer exited (${consumer.child.exitCode}) waiting for ${what}: ${consumer.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${consumer ? `; consumer stderr: ${consumer.stderr()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('exactly-once: SIGKILL a transactional consumer mid-transaction', () => {
  let client: MongoClient;
  let consumer: Consumer | undefined;
  const dbName = uniqueDbName('exactly');

  beforeAll(async () => {
    client = driverClient();
    await client.db(dbName).createCollection('log');
  });

  afterAll(async () => {
    if (consumer) await kill(consumer.child);
    await client.db(dbName).dropDatabase().catch(() => {});
    await client.close();
  });

  it('applies every entry exactly once and the projection equals a recomputation from the log', async () => {
    const uri = process.env.RXMONGO_TEST_URI as string;
    const log = client.db(dbName).collection<{ _id: number; account: string; amount: number }>('log');
    const run = async (): Promise<Consumer> => {
      const started = startConsumer(uri, dbName);
      consumer = started;
      await until(() => started.lines.includes('opened'), 'opened', 60_000, started);
      return started;
    };

    let current = await run();
    let written = 0;
    let producing = true;
    const producer = (async () => {
      while (written < TOTAL) {
        const chunk = Array.from({ length: 10 }, (_, i) => written + i + 1).map((n) => ({ _id: n, account: `acct-${n % 7}`, amount: (n * 37) % 101 }));
        await log.insertMany(chunk);
        written += chunk.length;
        await sleep(25);
      }
      producing = false;
    })();

    let midTransaction = 0;
    let kills = 0;
    const restartMS: number[] = [];
    while (midTransaction < MID_TRANSACTION_KILLS && kills < MID_TRANSACTION_KILLS * 3) {
      const seenBefore = current.lines.length;
      // Kill once this process is inside a transaction: after a handler began writing, at a random moment within the batch.
      await until(() => current.lines.slice(seenBefore).some((l) => l.startsWith('handling')), 'a handler at work', 60_000, current);
      await sleep(Math.random() * 8);
      await kill(current.child);
      kills += 1;
      // Inside a transaction: no commit (`checkpointed`) after the last handler line.
      const lastHandling = current.lines.map((l) => l.startsWith('handling')).lastIndexOf(true);
      if (!current.lines.slice(lastHandling).includes('checkpointed')) midTransaction += 1;
      const killedAt = Date.now();
      current = await run();
      // The successor's first commit: quick only if it ended the dead holder's open transaction.
      await until(() => current.lines.includes('checkpointed') || !producing, 'the successor committing', 90_000, current);
      restartMS.push(Date.now() - killedAt);
    }
    await producer;

    const applied = client.db(dbName).collection<{ _id: number; count: number }>('applied');
    await until(async () => (await applied.countDocuments()) === TOTAL, `all ${TOTAL} entries applied`, 120_000, current);
    await sleep(500); // anything applied twice would show now
    await kill(current.child);

    const counts = await applied.find().toArray();
    const multiples = counts.filter((c) => c.count !== 1);
    const totals = await client.db(dbName).collection('totals').find({}, { sort: { _id: 1 } }).toArray();
    const recomputed = await log
      .aggregate([{ $group: { _id: '$account', sum: { $sum: '$amount' }, events: { $sum: 1 } } }, { $sort: { _id: 1 } }])
      .toArray();
    console.log(
      `exactly-once kill test: ${TOTAL} entries, ${kills} SIGKILLs (${midTransaction} inside a transaction), batch ${BATCH}; ` +
        `applications per entry: ${counts.length} entries at 1, ${multiples.length} otherwise; kill to the successor's first commit: ${restartMS.join(', ')} ms (lease ttl ${LEASE_TTL_MS} ms)`,
    );
    expect(midTransaction).toBeGreaterThanOrEqual(MID_TRANSACTION_KILLS);
    expect(counts).toHaveLength(TOTAL);
    expect(multiples).toEqual([]);
    expect(totals).toEqual(recomputed);
  });
});
