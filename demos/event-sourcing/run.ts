/**
 * The event-sourcing demo as a function: a producer appends order events
 * while a projector process consumes them; the projector is killed with
 * SIGKILL a few times mid-stream and restarted; at the end the projection is
 * compared with a from-scratch recomputation of the whole log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { concatMap, lastValueFrom, range, tap, timer, toArray } from 'rxjs';
import { RxMongoClient } from '../../lib';
import { CHECKPOINT_EVERY, recompute, type Balance, type OrderEvent, type OrderEventType } from './projection';

export interface EventSourcingOptions {
  /** A replica set (change streams need one). */
  uri: string;
  /** Dropped first; holds `orderEvents`, `balances` and `checkpoints`. */
  database: string;
  /** Events to produce (default 2000). */
  events?: number;
  /** SIGKILLs of the projector (default 4). */
  kills?: number;
  accounts?: number;
  /** Events per second the producer appends (default 250). */
  rate?: number;
  /** Gives up after this long (ms, default 180 000). */
  timeoutMs?: number;
  log?: (line: string) => void;
  random?: () => number;
}

/** What the run proves. `lost` must be 0 and `projectionMatches` true. */
export interface Proof {
  produced: number;
  /** Distinct events applied to the projection (from the projection itself). */
  processed: number;
  /** Deliveries the projection recognised as already applied and absorbed. */
  duplicates: number;
  /** Events in the log that the projection never applied. */
  lost: number;
  kills: number;
  /** The most duplicates the kills may cause: per kill, one checkpoint batch plus the event in flight. */
  duplicateBound: number;
  /** Projector processes started (kills + 1). */
  starts: number;
  checkpointsSaved: number;
  /** Every account's balance, event count and version equal the recomputation. */
  projectionMatches: boolean;
  mismatches: string[];
}

const CONSUMER = join(__dirname, 'consumer.ts');
const KEY = 'balances-projector';

/** Runs the whole demo; resolves with the proof (it does not judge it). */
export async function runEventSourcingDemo(options: EventSourcingOptions): Promise<Proof> {
  const total = options.events ?? 2000;
  const kills = options.kills ?? 4;
  const accounts = options.accounts ?? 12;
  const rate = options.rate ?? 250;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => {});
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);

  const client = new RxMongoClient(options.uri, { appName: 'rxmongo-es-demo' });
  const projector = new Projector(options.uri, options.database, log);
  try {
    const db = client.db(options.database);
    await lastValueFrom(db.dropDatabase());
    const events = db.collection<OrderEvent>('orderEvents');
    const balances = db.collection<Balance>('balances');

    await projector.start(deadline);
    // A new projector starts from "now": its first checkpoint must be durable
    // before events are produced, or a crash before that would start it from
    // a later "now".
    await projector.checkpointed(deadline);
    log(`projector started (pid ${projector.pid}); producing ${total} events for ${accounts} accounts at ${rate}/s`);
    let produced = 0;
    let producing = true;
    const sequences = new Map<string, number>();
    const batch = 10;
    const production = lastValueFrom(
      range(0, Math.ceil(total / batch)).pipe(
        concatMap((i) => {
          const docs = Array.from({ length: Math.min(batch, total - i * batch) }, () => nextEvent(sequences, accounts, random));
          return timer((1000 * batch) / rate).pipe(concatMap(() => events.insertMany(docs)), tap(() => (produced += docs.length)));
        }),
      ),
      { defaultValue: undefined },
    ).finally(() => {
      producing = false;
    });
    // Surfaced by the await below; a failure meanwhile must not go unhandled.
    production.catch(() => {});

    for (let k = 1; k <= kills; k++) {
      const after = 20 + Math.floor(random() * 100);
      // Mid-stream if events are still coming; otherwise once it has caught up.
      await projector.handledSinceStart(after, () => !producing && projector.seen.size >= produced, deadline);
      projector.kill();
      await projector.exited(deadline);
      log(`SIGKILL #${k} after ${projector.handledThisRun} events this run (${projector.seen.size}/${produced} seen so far); restarting`);
      await projector.start(deadline);
    }
    await production;
    log(`producer done: ${produced} events; waiting for the projector to catch up`);
    await projector.sawAll(total, deadline);
    await projector.stop(deadline);

    const projection = new Map((await lastValueFrom(balances.find().pipe(toArray()))).map((b) => [b._id, b]));
    const truth = await lastValueFrom(recompute(events).pipe(toArray()));
    const mismatches: string[] = [];
    let processed = 0;
    for (const b of projection.values()) processed += b.applied;
    for (const expected of truth) {
      const actual = projection.get(expected._id);
      if (!actual) mismatches.push(`${expected._id}: missing from the projection`);
      else if (actual.balanceCents !== expected.balanceCents || actual.applied !== expected.events || actual.version !== expected.lastSeq) {
        mismatches.push(
          `${expected._id}: projection ${actual.balanceCents}¢/${actual.applied} events/v${actual.version}, ` +
            `log ${expected.balanceCents}¢/${expected.events} events/v${expected.lastSeq}`,
        );
      }
    }
    for (const id of projection.keys()) if (!truth.some((t) => t._id === id)) mismatches.push(`${id}: not in the log`);
    const logged = truth.reduce((sum, t) => sum + t.events, 0);
    return {
      produced: logged,
      processed,
      duplicates: projector.duplicates,
      lost: logged - processed,
      kills,
      duplicateBound: kills * (CHECKPOINT_EVERY + 1),
      starts: projector.starts,
      checkpointsSaved: projector.checkpoints,
      projectionMatches: mismatches.length === 0,
      mismatches,
    };
  } finally {
    projector.kill();
    await lastValueFrom(client.close(), { defaultValue: undefined });
  }
}

const TYPES: Array<{ type: OrderEventType; sign: number; max: number }> = [
  { type: 'OrderPlaced', sign: -1, max: 20_000 },
  { type: 'PaymentReceived', sign: 1, max: 25_000 },
  { type: 'OrderRefunded', sign: 1, max: 5_000 },
];
function nextEvent(sequences: Map<string, number>, accounts: number, random: () => number): OrderEvent {
  const account = `acct-${String(1 + Math.floor(random() * accounts)).padStart(2, '0')}`;
  const seq = (sequences.get(account) ?? 0) + 1;
  sequences.set(account, seq);
  const kind = TYPES[Math.floor(random() * TYPES.length)];
  return { _id: `${account}-${seq}`, account, seq, type: kind.type, amountCents: kind.sign * (1 + Math.floor(random() * kind.max)), at: new Date() };
}

/** The projector process and what it has reported. */
class Projector {
  starts = 0;
  duplicates = 0;
  checkpoints = 0;
  handledThisRun = 0;
  /** Event ids the projector reported handling (applied or absorbed). */
  readonly seen = new Set<string>();
  private child: ChildProcess | undefined;
  private changed: () => void = () => {};
  private exitCode: number | null | undefined;
  private failure: string | undefined;
  private opened = false;

  constructor(
    private readonly uri: string,
    private readonly database: string,
    private readonly log: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts a projector and resolves once its change stream is open. */
  async start(deadline: number): Promise<void> {
    this.starts += 1;
    this.handledThisRun = 0;
    this.opened = false;
    this.exitCode = undefined;
    // The connection string goes by environment, not argv: any local user can list a process's argv.
    const child = spawn(process.execPath, ['--import', 'tsx', CONSUMER, this.database, KEY], {
      cwd: join(__dirname, '..', '..'),
      env: { ...process.env, MONGODB_URI: this.uri },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    child.once('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? -1 : null);
      this.changed();
    });
    await this.until(() => this.opened, deadline, 'the projector opening its change stream');
  }

  handledSinceStart(count: number, idle: () => boolean, deadline: number): Promise<void> {
    return this.until(() => this.handledThisRun >= count || idle(), deadline, `the projector handling ${count} events`);
  }

  checkpointed(deadline: number): Promise<void> {
    return this.until(() => this.checkpoints > 0, deadline, 'the projector saving its first checkpoint');
  }

  sawAll(total: number, deadline: number): Promise<void> {
    return this.until(() => this.seen.size >= total, deadline, `the projector handling all ${total} events`);
  }

  kill(): void {
    if (this.child && this.exitCode === undefined) this.child.kill('SIGKILL');
  }

  exited(deadline: number): Promise<void> {
    return this.until(() => this.exitCode !== undefined, deadline, 'the projector exiting', true);
  }

  /** SIGTERM: the projector saves its last checkpoint and exits 0. */
  async stop(deadline: number): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited(deadline);
    if (this.exitCode !== 0) throw new Error(`the projector exited with ${this.exitCode} on SIGTERM`);
  }

  private onLine(line: string): void {
    let report: { t?: string; id?: string; message?: string };
    try {
      report = JSON.parse(line);
    } catch {
      this.log(`projector: ${line}`);
      return;
    }
    if (report.t === 'opened') this.opened = true;
    else if (report.t === 'checkpointed') this.checkpoints += 1;
    else if (report.t === 'applied' || report.t === 'duplicate') {
      this.handledThisRun += 1;
      if (report.t === 'duplicate') this.duplicates += 1;
      this.seen.add(report.id!);
    } else if (report.t === 'error') this.failure = report.message;
    this.changed();
  }

  /** Resolves when `done()` holds; rejects when the projector dies unexpectedly or time runs out. */
  private until(done: () => boolean, deadline: number, what: string, exitExpected = false): Promise<void> {
    return new Promise((resolve, reject) => {
      // Reports wake it at once; the poll catches conditions outside the projector (production ending).
      const poll = setInterval(() => check(), 100);
      const finish = (problem?: string): void => {
        clearInterval(poll);
        this.changed = () => {};
        if (problem) reject(new Error(`waiting for ${what}: ${problem}`));
        else resolve();
      };
      const check = (): void => {
        if (done()) finish();
        else if (this.failure) finish(`the projector failed: ${this.failure}`);
        else if (!exitExpected && this.exitCode !== undefined) finish(`the projector exited (${this.exitCode})`);
        else if (Date.now() > deadline) finish('timed out');
      };
      this.changed = check;
      check();
    });
  }
}
