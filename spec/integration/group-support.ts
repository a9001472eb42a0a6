/**
 * Helpers of the consumer-group spec: member processes (spec/fixtures/group-member.ts)
 * and what their logs prove.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';

const ROOT = join(__dirname, '..', '..');

export interface GroupRun {
  uri: string;
  db: string;
  collection: string;
  key: string;
  partitions: number;
  leaseMS: number;
}

/** A member process and its log file. */
export interface Member {
  name: string;
  child: ChildProcess;
  log: string;
  stderr(): string;
}

/** Spawns a member: node itself (not a wrapper), so signals reach it. */
export function startMember(run: GroupRun, name: string, dir: string): Member {
  const log = join(dir, `${name}.log`);
  const args = [run.uri, run.db, run.collection, run.key, String(run.partitions), String(run.leaseMS), log];
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'spec/fixtures/group-member.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return { name, child, log, stderr: () => stderr };
}

/** Sends `signal` and waits for the exit (SIGTERM: the member leaves cleanly first). */
export function signal(member: Member, sig: NodeJS.Signals): Promise<void> {
  const { child } = member;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(sig);
  });
}

/** Ends members still running: SIGCONT (if stopped) then SIGKILL. */
export async function killAll(members: Member[]): Promise<void> {
  for (const m of members) m.child.kill('SIGCONT');
  await Promise.all(members.map((m) => signal(m, 'SIGKILL')));
}

export async function until(condition: () => boolean, what: string, ms: number, members: Member[] = []): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    const dead = members.find((m) => m.child.exitCode !== null && m.child.exitCode !== 0);
    if (dead !== undefined) throw new Error(`member ${dead.name} exited (${dead.child.exitCode}): ${dead.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface StatusLine {
  t: number;
  type: string;
  partitions?: number[];
  owned?: number[];
  reason?: string;
  share?: number[];
  key?: string;
  error?: string;
}

/** One member's log, read back: changes handled (with the assignment epoch they fell in) and statuses. */
export interface MemberLog {
  handled: Array<{ d: number; s: number; epoch: number }>;
  statuses: StatusLine[];
  /** The partitions it holds now (after its last `assigned`/`revoked`). */
  owned: number[];
}

export function readLog(member: Member): MemberLog {
  const log: MemberLog = { handled: [], statuses: [], owned: [] };
  if (!existsSync(member.log)) return log;
  let epoch = 0;
  for (const text of readFileSync(member.log, 'utf8').split('\n')) {
    let line: { d?: number; s?: number } & Partial<StatusLine>;
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      continue; // an empty last line, or one cut by SIGKILL
    }
    if (line.type === undefined) {
      log.handled.push({ d: line.d as number, s: line.s as number, epoch });
      continue;
    }
    log.statuses.push(line as StatusLine);
    // Each change of what the member holds starts a new epoch: order is checked within one.
    if (line.type === 'assigned' || line.type === 'revoked' || line.type === 'leaseLost') epoch += 1;
    if (line.owned !== undefined) log.owned = line.owned;
  }
  return log;
}

/** (document, seq) pairs not handled by any member, of `docs` × `0..updates`. */
export function missing(logs: MemberLog[], docs: number, updates: number): string[] {
  const seen = new Set(logs.flatMap((l) => l.handled.map((h) => `${h.d}:${h.s}`)));
  const lost: string[] = [];
  for (let d = 0; d < docs; d++) for (let s = 0; s <= updates; s++) if (!seen.has(`${d}:${s}`)) lost.push(`${d}:${s}`);
  return lost;
}

/**
 * Order violations within each member: between two changes of what it
 * holds, each document's changes must come one after the other
 * (seq + 1), never skipping ahead or going back.
 */
export function outOfOrder(log: MemberLog): string[] {
  const last = new Map<string, number>();
  const wrong: string[] = [];
  for (const { d, s, epoch } of log.handled) {
    const key = `${epoch}:${d}`;
    const previous = last.get(key);
    if (previous !== undefined && s !== previous + 1) wrong.push(`doc ${d}: ${s} after ${previous} (epoch ${epoch})`);
    last.set(key, s);
  }
  return wrong;
}

/** Distinct (document, seq) pairs a member handled. */
export function distinct(log: MemberLog): number {
  return new Set(log.handled.map((h) => `${h.d}:${h.s}`)).size;
}

/** When the first `assigned` of each of `partitions` came after `since`, over `logs`. */
export function takenOverAt(logs: MemberLog[], partitions: number[], since: number): number | undefined {
  let latest = since;
  for (const p of partitions) {
    const times = logs.flatMap((l) => l.statuses.filter((s) => s.type === 'assigned' && s.t >= since && s.partitions?.includes(p)).map((s) => s.t));
    if (times.length === 0) return undefined;
    latest = Math.max(latest, Math.min(...times));
  }
  return latest;
}

/** Inserts `docs` documents `{ _id, s: 0 }`, then `updates` rounds setting `s` to the round number on every document. */
export async function produce(
  client: MongoClient,
  run: GroupRun,
  docs: number,
  updates: number,
  onRound: (round: number) => Promise<void> = async () => {},
  pauseMS = 40,
): Promise<void> {
  const coll = client.db(run.db).collection<{ _id: number; s: number }>(run.collection);
  await coll.insertMany(Array.from({ length: docs }, (_, d) => ({ _id: d, s: 0 })));
  for (let round = 1; round <= updates; round++) {
    await coll.bulkWrite(Array.from({ length: docs }, (_, d) => ({ updateOne: { filter: { _id: d }, update: { $set: { s: round } } } })));
    await onRound(round);
    await new Promise((resolve) => setTimeout(resolve, pauseMS));
  }
}
