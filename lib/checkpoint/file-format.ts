/**
 * How {@link FileCheckpointStore} names and encodes its files (internal).
 *
 * Per key, in the store's directory:
 * - `<name>.f<fence>.checkpoint.json`: the position saved under that fence,
 *   one file per fence (a legacy `<name>.checkpoint.json` counts as fence 0);
 *   the file with the highest fence is the checkpoint;
 * - `<name>.lock`: the lease (a proper-lockfile lock directory);
 * - `<final file>.<pid>@<host hash>.<random>.tmp`: a write in progress.
 *
 * @internal
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BSON, type ResumeToken } from 'mongodb';
import { CheckpointCorruptError } from '../errors';

const SUFFIX = '.checkpoint.json';
const MAX_PLAIN_NAME = 100;
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const FENCED = /^([^.]+)\.f([1-9]\d*)\.checkpoint\.json$/;
const TEMPORARY = /\.(\d+)@([0-9a-f]{8})\.[0-9a-f]+\.tmp$/;

/** What a checkpoint file holds. */
export interface CheckpointRecord {
  key: string;
  fence: number;
  holder?: string;
  /** The holder's lease ttl: how long its lock may go unrefreshed before others may take it. */
  ttlMS?: number;
  /** Absent in a file written by `acquire` before any save. */
  token?: ResumeToken;
  savedAt?: Date;
}

/** A file-system-safe, collision-free name for `key`: readable when short, hashed beyond that. */
export function baseName(key: string): string {
  // Only [0-9A-Za-z_-] pass unescaped, so a name never contains "." and never collides with a suffix.
  const plain = Array.from(Buffer.from(key, 'utf8'))
    .map((byte) => (isPlain(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`))
    .join('');
  if (plain.length <= MAX_PLAIN_NAME) return plain;
  const digest = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32);
  return `${plain.slice(0, MAX_PLAIN_NAME - 33)}~${digest}`;
}

/** The checkpoint file of `key` under `fence`. */
export function checkpointName(key: string, fence: number): string {
  return fence === 0 ? `${baseName(key)}${SUFFIX}` : `${baseName(key)}.f${fence}${SUFFIX}`;
}

/** The fence of `name` if it is a checkpoint file of `key`. */
export function fenceOf(key: string, name: string): number | undefined {
  const base = baseName(key);
  if (name === `${base}${SUFFIX}`) return 0;
  if (!name.startsWith(`${base}.f`) || !name.endsWith(SUFFIX)) return undefined;
  const digits = name.slice(base.length + 2, name.length - SUFFIX.length);
  return /^[1-9]\d*$/.test(digits) ? Number(digits) : undefined;
}

/** The base name and fence of a fenced checkpoint file's name (`<base>.f<fence>.checkpoint.json`); `undefined` for any other name. */
export function fencedNameParts(name: string): { base: string; fence: number } | undefined {
  const match = FENCED.exec(name);
  return match === null ? undefined : { base: match[1], fence: Number(match[2]) };
}

/** A fresh temporary name next to `file`, tagged with this process and host. */
export function temporaryName(file: string): string {
  return `${file}.${process.pid}@${HOST}.${randomBytes(6).toString('hex')}.tmp`;
}

/**
 * Whether `name` is a temporary of `key` left by a process of this host that
 * is gone. Another live process's temporary is a write in progress and is
 * never touched; other hosts' are left alone (their pids mean nothing here).
 */
export function isAbandonedTemporary(key: string, name: string): boolean {
  if (!name.startsWith(`${baseName(key)}.`)) return false;
  const match = TEMPORARY.exec(name);
  if (match === null || match[2] !== HOST) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Canonical extended JSON, so any BSON position round-trips exactly. */
export function encodeRecord(record: CheckpointRecord): string {
  return BSON.EJSON.stringify(record as unknown as BSON.Document, { relaxed: false });
}

/** Parses a checkpoint file; `CheckpointCorruptError` for anything but a well-formed record of `key` (of any key when `undefined`). */
export function decodeRecord(file: string, key: string | undefined, text: string): CheckpointRecord {
  let stored: unknown;
  try {
    stored = BSON.EJSON.parse(text, { relaxed: false });
  } catch (error) {
    throw new CheckpointCorruptError(file, `not extended JSON (${(error as Error).message})`);
  }
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) throw new CheckpointCorruptError(file, 'not an object');
  const record = stored as Partial<Omit<CheckpointRecord, 'fence'>> & { token?: unknown; fence?: unknown };
  if (key === undefined ? typeof record.key !== 'string' : record.key !== key) {
    throw new CheckpointCorruptError(file, `holds key ${JSON.stringify(record.key)}${key === undefined ? '' : `, not ${JSON.stringify(key)}`}`);
  }
  // Canonical parsing keeps numbers wrapped (Int32, Double), so tokens keep their exact BSON types.
  const fence = record.fence === undefined ? undefined : Number((record.fence as { valueOf(): unknown }).valueOf());
  if (fence !== undefined && !Number.isSafeInteger(fence)) throw new CheckpointCorruptError(file, 'holds a fence that is not an integer');
  // Only acquire writes a record without a token, and it always writes the fence and no savedAt.
  const leaseOnly = !('token' in record) && record.savedAt === undefined && fence !== undefined;
  if (!leaseOnly && record.token == null) throw new CheckpointCorruptError(file, 'holds no token');
  const ttlMS = record.ttlMS === undefined ? undefined : Number((record.ttlMS as { valueOf(): unknown }).valueOf());
  return { ...record, key: record.key, fence: fence ?? 0, ttlMS } as CheckpointRecord;
}

function isPlain(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x5f
  );
}
