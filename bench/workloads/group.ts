/**
 * Consumer-group throughput: the same history of changes drained by a group
 * of 1, 2 and 4 member processes on this machine, each a real process
 * (this file, run with `--group-member`) with its own client, sharing a
 * CollectionCheckpointStore. The clock starts when every member has
 * connected and is told to join at once, and stops when every change has
 * been handled by some member; joining and the first rebalance are inside
 * the measured time, as they are in production.
 *
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { MongoClient, Timestamp, type ChangeStreamInsertDocument, type Document } from 'mongodb';
import { CollectionCheckpointStore, RxMongoClient, type CheckpointDocument } from '../../lib';
import type { BenchContext } from '../context';
import type { Workload } from '../harness';

const MEMBER_FLAG = '--group-member';
const LEASE_MS = 3000;
const MEMBER_COUNTS = [1, 2, 4] as const;
const PARTITIONS = 8;

interface GroupState {
  raw: MongoClient;
  dbName: string;
  start: Timestamp;
  changes: number;
  /** A fresh group key per drain, so every drain starts from the history's start. */
  drains: number;
}

/**
 * One workload, three variants (1, 2 and 4 member processes draining the
 * same history with an empty handler); each row is the speed-up of N
 * members over one (baseline time ÷ candidate time). The members' CPU is
 * theirs, not this process's: only wall time means anything here.
 */
export default function groupThroughput(ctx: BenchContext): Workload<GroupState> {
  const changes = ctx.quick ? 2_000 : 20_000;
  return {
    id: 'group',
    title: `consumer group throughput, ${PARTITIONS} partitions, ${changes} changes, member processes on this machine`,
    order: 95,
    budget: ctx.quick ? { warmupRounds: 0, rounds: 1 } : { warmupRounds: 0, rounds: 3 },
    // Every iteration starts its member processes afresh: nothing here to warm.
    warmAfterCollect: false,
    setup: async () => {
      const dbName = ctx.dbName('group');
      const raw = new MongoClient(ctx.backend.uri, ctx.clientOptions);
      const start = await writeHistory(raw, dbName, changes);
      return { raw, dbName, start, changes, drains: 0 };
    },
    variants: MEMBER_COUNTS.map((members) => ({
      key: `m${members}`,
      label: `${members} member${members === 1 ? '' : 's'}`,
      run: async (state: GroupState) => {
        state.drains += 1;
        const key = `g${members}_${state.drains}`;
        const drained = await drain(ctx.backend.uri, state.dbName, key, members, PARTITIONS, state.start, state.changes, 'none');
        return { ops: state.changes, ms: drained.seconds * 1000, counters: { duplicates: drained.duplicates } };
      },
    })),
    rows: MEMBER_COUNTS.slice(1).map((members) => ({
      label: `group of ${members} members (speed-up)`,
      unit: 'change',
      candidate: `m${members}`,
      baseline: 'm1',
      vs: '1 member',
    })),
    teardown: async (state) => {
      await state.raw.db(state.dbName).dropDatabase().catch(() => {});
      await state.raw.close();
    },
  };
}

/** The handler's work per change. */
type Work = 'none' | { cpuMicros: number };

/** One measured drain. */
interface Drained {
  seconds: number;
  /** Deliveries beyond the first (partitions handed over during the first rebalance). */
  duplicates: number;
}

/** Inserts `changes` documents (ids 0…changes−1); returns the operation time before the first. */
async function writeHistory(raw: MongoClient, dbName: string, changes: number): Promise<Timestamp> {
  const coll = await raw.db(dbName).createCollection('events');
  const session = raw.startSession();
  let start: Timestamp | undefined;
  try {
    await raw.db(dbName).command({ ping: 1 }, { session });
    start = session.operationTime;
  } finally {
    await session.endSession();
  }
  if (start === undefined) throw new Error('the server reported no operationTime; change streams need a replica set');
  for (let from = 0; from < changes; from += 5_000) {
    const docs: Document[] = [];
    for (let i = from; i < Math.min(changes, from + 5_000); i++) docs.push({ _id: i, v: i });
    await coll.insertMany(docs, { ordered: false });
  }
  return start;
}

/** Runs `members` member processes until every change is handled; returns the time and duplicates. */
async function drain(
  uri: string,
  dbName: string,
  key: string,
  members: number,
  partitions: number,
  start: Timestamp,
  changes: number,
  work: Work,
): Promise<Drained> {
  const seen = new Uint8Array(changes);
  let distinct = 0;
  let deliveries = 0;
  let finished: (() => void) | undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const cpu = work === 'none' ? 0 : work.cpuMicros;
  const args = [__filename, MEMBER_FLAG, uri, dbName, key, String(partitions), start.toString(), String(cpu)];
  const children: ChildProcess[] = [];
  const ready: Array<Promise<void>> = [];
  let failure: Error | undefined;
  for (let i = 0; i < members; i++) {
    const child = spawn(process.execPath, [...process.execArgv, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => {
      if (code !== 0 && code !== null && distinct < changes) {
        failure = new Error(`group member exited with ${code}: ${stderr}`);
        finished?.();
      }
    });
    ready.push(
      new Promise((resolve) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line === 'ready') return resolve();
          // A line of handled ids, comma-separated.
          for (const id of line.split(',')) {
            const n = Number(id);
            deliveries += 1;
            if (seen[n] === 0) {
              seen[n] = 1;
              distinct += 1;
            }
          }
          if (distinct === changes) finished?.();
        });
      }),
    );
  }
  try {
    await Promise.all(ready);
    const t0 = performance.now();
    for (const child of children) child.stdin!.write('go\n');
    await done;
    if (failure !== undefined) throw failure;
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, duplicates: deliveries - changes };
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

/**
 * A member process: connects, prints `ready`, joins on `go` (stdin), and
 * prints the ids it handled, batched every 50 ms. Leaves on SIGTERM.
 */
function member(argv: string[]): void {
  const [uri, dbName, key, partitions, start, cpuMicros] = argv;
  const client = new RxMongoClient(uri, { serverSelectionTimeoutMS: 15_000 });
  const db = client.db(dbName);
  const store = new CollectionCheckpointStore(db.collection<CheckpointDocument>(`checkpoints_${key}`).driver);
  let handled: number[] = [];
  const flush = setInterval(() => {
    if (handled.length === 0) return;
    process.stdout.write(`${handled.join(',')}\n`);
    handled = [];
  }, 50);
  const busy = Number(cpuMicros) / 1000;
  void db.driver
    .command({ ping: 1 })
    .then(() => {
      process.stdout.write('ready\n');
      createInterface({ input: process.stdin }).once('line', () => {
        const consuming = db
          .collection<{ _id: number }>('events')
          .watch<{ _id: number }, ChangeStreamInsertDocument<{ _id: number }>>([{ $match: { operationType: 'insert' } }], {
            checkpoint: { store, key, every: { events: 500, ms: 500 }, start: Timestamp.fromString(start, 10) },
            group: { partitions: Number(partitions), leaseMS: LEASE_MS },
          })
          .consume(
            (change) => {
              if (busy > 0) for (const until = performance.now() + busy; performance.now() < until; );
              handled.push(change.documentKey._id);
            },
            { highWaterMark: 500 },
          )
          .subscribe({ error: (error: unknown) => (process.stderr.write(`${String(error)}\n`), process.exit(1)) });
        process.once('SIGTERM', () => {
          consuming.unsubscribe();
          clearInterval(flush);
          void Promise.resolve(client.close()).finally(() => process.exit(0));
        });
      });
    });
}

if (require.main === module && process.argv[2] === MEMBER_FLAG) member(process.argv.slice(3));
