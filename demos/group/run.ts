/**
 * The consumer-group demo as a function: a group of member processes
 * (./member.ts) splits the changes of one collection while a producer
 * writes; members are SIGKILLed and restarted on a timer; at the end every
 * change must have been handled by some member, in order within each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { lastValueFrom } from 'rxjs';
import { RxMongoClient } from '../../lib';

export interface GroupDemoOptions {
  /** A replica set (change streams need one). */
  uri: string;
  /** Dropped first; holds `counters` and `checkpoints`. */
  database: string;
  /** Member processes (default 3). */
  members?: number;
  /** Partitions of the group (default 8). */
  partitions?: number;
  /** The members' leaseMS (default 1500). */
  leaseMS?: number;
  /** Documents written, then updated `rounds` times each (defaults 40 and 60). */
  documents?: number;
  rounds?: number;
  /** Update rounds per second (default 10). */
  rate?: number;
  /** SIGKILLs, one every `killEveryMS` (defaults 3 and 2500); a killed member restarts `restartAfterMS` later (default 1500). */
  kills?: number;
  killEveryMS?: number;
  restartAfterMS?: number;
  /** Asynchronous work per change in the handler, ms (default 2). */
  workMS?: number;
  /** Gives up after this long (ms, default 120 000). */
  timeoutMS?: number;
  /** A line of the running report. */
  log?: (line: string) => void;
  random?: () => number;
}

/** What the run proves. `lost` and `outOfOrder` must be 0. */
export interface GroupProof {
  produced: number;
  /** Distinct changes handled by some member. */
  handled: number;
  /** Deliveries beyond the first of a change (at-least-once across kills and rebalances). */
  duplicates: number;
  lost: number;
  kills: number;
  starts: number;
  /** Per SIGKILL: ms until the killed member's partitions were all assigned again. */
  rebalanceMS: number[];
  /** Changes of a document handled out of order within one member process (between two of its assignments). */
  outOfOrder: number;
  /** Partitions per member slot at the end, and the most any may hold (⌈P/N⌉). */
  shares: number[];
  fairShare: number;
  /** Changes handled per member process started, in start order. */
  perProcess: Array<{ name: string; handled: number }>;
}

const MEMBER = join(__dirname, 'member.ts');
const KEY = 'counters-group';

interface Line {
  t: string;
  d?: number;
  s?: number;
  owned?: number[];
  partitions?: number[];
  partition?: number;
  lagMS?: number;
}

/** One member process and what it reported. */
class MemberProcess {
  readonly child: ChildProcess;
  handled = 0;
  owned: number[] = [];
  joined = false;
  readonly lag = new Map<number, number>();
  /** Per document, the last seq handled in the current epoch (reset at each change of what it holds). */
  private last = new Map<number, number>();
  stderr = '';

  constructor(
    readonly name: string,
    args: string[],
    private readonly onLine: (member: MemberProcess, line: Line) => void,
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', MEMBER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        return;
      }
      if (line.t === 'joined') this.joined = true;
      if (line.owned !== undefined) this.owned = line.owned;
      if (line.t === 'assigned' || line.t === 'revoked') this.last = new Map();
      if (line.t === 'revoked') for (const p of line.partitions ?? []) this.lag.delete(p);
      if (line.t === 'progress' && line.partition !== undefined && line.lagMS != null) this.lag.set(line.partition, line.lagMS);
      if (line.t === 'h') this.handled += 1;
      this.onLine(this, line);
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Whether `s` follows the document's previous change in this epoch (or starts it). */
  inOrder(d: number, s: number): boolean {
    const previous = this.last.get(d);
    this.last.set(d, s);
    return previous === undefined || s === previous + 1;
  }

  stop(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }
}

/** Runs the demo; resolves with the proof (it does not judge it). */
export async function runGroupDemo(options: GroupDemoOptions): Promise<GroupProof> {
  const n = options.members ?? 3;
  const partitions = options.partitions ?? 8;
  const leaseMS = options.leaseMS ?? 1500;
  const documents = options.documents ?? 40;
  const rounds = options.rounds ?? 60;
  const rate = options.rate ?? 10;
  const kills = options.kills ?? 3;
  const killEveryMS = options.killEveryMS ?? 2500;
  const restartAfterMS = options.restartAfterMS ?? 1500;
  const workMS = options.workMS ?? 2;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => {});
  const deadline = Date.now() + (options.timeoutMS ?? 120_000);
  const produced = documents * (rounds + 1);

  const seen = new Map<string, number>();
  const started: MemberProcess[] = [];
  const slots: MemberProcess[] = [];
  const pendingTakeovers: Array<{ at: number; partitions: Set<number> }> = [];
  const rebalanceMS: number[] = [];
  let outOfOrder = 0;
  let shares: number[] = [];

  const onLine = (member: MemberProcess, line: Line): void => {
    if (line.t === 'h') {
      const id = `${line.d}:${line.s}`;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      if (!member.inOrder(line.d as number, line.s as number)) outOfOrder += 1;
    }
    if (line.t === 'assigned') {
      for (const takeover of pendingTakeovers) {
        for (const p of line.partitions ?? []) takeover.partitions.delete(p);
        if (takeover.partitions.size === 0) rebalanceMS.push(Date.now() - takeover.at);
      }
      pendingTakeovers.splice(0, pendingTakeovers.length, ...pendingTakeovers.filter((t) => t.partitions.size > 0));
    }
  };
  const args = [options.uri, options.database, 'counters', KEY, String(partitions), String(leaseMS), String(workMS)];
  const launch = (slot: number): MemberProcess => {
    const member = new MemberProcess(`m${slot + 1}#${started.filter((m) => m.name.startsWith(`m${slot + 1}#`)).length + 1}`, args, onLine);
    started.push(member);
    slots[slot] = member;
    return member;
  };
  const waitFor = async (condition: () => boolean, what: string): Promise<void> => {
    while (!condition()) {
      const failed = started.find((m) => m.child.exitCode !== null && m.child.exitCode !== 0);
      if (failed !== undefined) throw new Error(`member ${failed.name} failed: ${failed.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const client = new RxMongoClient(options.uri, { appName: 'rxmongo-group-demo' });
  const table = setInterval(() => log(report(slots, partitions, seen.size, produced)), 1000);
  try {
    const db = client.db(options.database);
    await lastValueFrom(db.dropDatabase());
    await db.driver.createCollection('counters');
    for (let slot = 0; slot < n; slot++) launch(slot);
    await waitFor(() => slots.every((m) => m.joined) && slots.reduce((sum, m) => sum + m.owned.length, 0) === partitions, 'the group to form');
    log(`group of ${n} formed over ${partitions} partitions; writing ${documents} documents and ${rounds} rounds of updates, killing a member every ${killEveryMS} ms`);

    let killed = 0;
    const killer = (async () => {
      while (killed < kills) {
        await new Promise((resolve) => setTimeout(resolve, killEveryMS));
        const live = slots.map((m, slot) => ({ m, slot })).filter(({ m }) => m.alive && m.owned.length > 0);
        if (live.length < 2 || Date.now() > deadline) continue;
        const { m, slot } = live[Math.floor(random() * live.length)];
        pendingTakeovers.push({ at: Date.now(), partitions: new Set(m.owned) });
        await m.stop('SIGKILL');
        killed += 1;
        log(`SIGKILL #${killed}: ${m.name} (pid ${m.child.pid}) holding partitions ${m.owned.join(',')}; restarting in ${restartAfterMS} ms`);
        m.owned = [];
        await new Promise((resolve) => setTimeout(resolve, restartAfterMS));
        launch(slot);
      }
    })();

    const coll = db.collection<{ _id: number; s: number }>('counters').driver;
    await coll.insertMany(Array.from({ length: documents }, (_, d) => ({ _id: d, s: 0 })));
    for (let round = 1; round <= rounds; round++) {
      await coll.bulkWrite(Array.from({ length: documents }, (_, d) => ({ updateOne: { filter: { _id: d }, update: { $set: { s: round } } } })));
      await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
    }
    await killer;
    await waitFor(() => seen.size === produced, 'every change handled');
    const fair = Math.ceil(partitions / n);
    const settled = (): boolean =>
      slots.every((m) => m.alive && m.joined && m.owned.length <= fair) && slots.reduce((sum, m) => sum + m.owned.length, 0) === partitions;
    await waitFor(settled, 'the group to settle');
    shares = slots.map((m) => m.owned.length);
    log(report(slots, partitions, seen.size, produced));
  } finally {
    clearInterval(table);
    await Promise.all(started.map((m) => m.stop('SIGTERM')));
    await lastValueFrom(client.close(), { defaultValue: undefined });
  }

  const deliveries = [...seen.values()].reduce((a, b) => a + b, 0);
  return {
    produced,
    handled: seen.size,
    duplicates: deliveries - seen.size,
    lost: produced - seen.size,
    kills: started.length - n,
    starts: started.length,
    rebalanceMS,
    outOfOrder,
    shares,
    fairShare: Math.ceil(partitions / n),
    perProcess: started.map((m) => ({ name: m.name, handled: m.handled })),
  };
}

/** The running table: per member, its partitions, changes handled and lag. */
function report(slots: MemberProcess[], partitions: number, handled: number, produced: number): string {
  const rows = slots.map((m) => {
    const lag = m.lag.size === 0 ? '-' : `${Math.max(...m.lag.values())} ms`;
    const state = m.alive ? `pid ${m.child.pid}` : 'killed';
    return `    ${m.name.padEnd(6)} ${state.padEnd(11)} partitions ${(m.owned.join(',') || '-').padEnd(Math.max(10, partitions * 2))} handled ${String(m.handled).padStart(5)}  lag ${lag}`;
  });
  return [`handled ${handled}/${produced} distinct changes`, ...rows].join('\n');
}
