import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BSON, type ResumeToken } from 'mongodb';
import { CheckpointCorruptError } from '../errors';
import { assertCheckpointKey, type CheckpointStore } from './store';

const SUFFIX = '.checkpoint.json';
const MAX_PLAIN_NAME = 120;

/**
 * A {@link CheckpointStore} keeping one file per key in a directory, in
 * canonical extended JSON (so any BSON token round-trips exactly).
 *
 * Each save writes a temporary file, fsyncs it, renames it over the
 * checkpoint and fsyncs the directory: a crash at any moment leaves either
 * the previous checkpoint or the new one, never a torn file. Temporary files
 * left by a crashed process are removed on the next `load` of their key.
 *
 * One process should write a given key; saves of one key from one store are
 * serialized.
 *
 * @example
 * const store = new FileCheckpointStore('./var/checkpoints');
 * orders.watch([], { checkpoint: { store, key: 'projector' } }).consume(project);
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    /** The directory holding the checkpoint files; created on the first save. */
    readonly directory: string,
  ) {
    if (typeof directory !== 'string' || directory.length === 0) {
      throw new TypeError('FileCheckpointStore needs a directory path (a non-empty string)');
    }
  }

  /** The file holding `key`'s checkpoint. */
  fileOf(key: string): string {
    assertCheckpointKey(key);
    return join(this.directory, fileName(key));
  }

  async load(key: string): Promise<ResumeToken | undefined> {
    const file = this.fileOf(key);
    return this.serialized(key, async () => {
      await this.removeStaleTemporaries(key);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      return parseCheckpoint(file, key, text);
    });
  }

  async save(key: string, token: ResumeToken): Promise<void> {
    const file = this.fileOf(key);
    if (token == null) throw new TypeError('a checkpoint token cannot be null or undefined');
    const body = BSON.EJSON.stringify({ key, token, savedAt: new Date() } as BSON.Document, { relaxed: false });
    return this.serialized(key, () => this.replace(file, body));
  }

  private async replace(file: string, body: string): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const handle = await open(temporary, 'wx', 0o644);
      try {
        await handle.writeFile(body, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    await syncDirectory(this.directory);
  }

  private async removeStaleTemporaries(key: string): Promise<void> {
    const prefix = `${fileName(key)}.`;
    const own = `${prefix}${process.pid}.`;
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const stale = names.filter((n) => n.startsWith(prefix) && n.endsWith('.tmp') && !n.startsWith(own));
    await Promise.all(stale.map((n) => rm(join(this.directory, n), { force: true })));
  }

  /** Runs `task` after every earlier task on `key` has settled. */
  private serialized<R>(key: string, task: () => Promise<R>): Promise<R> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return result;
  }
}

/** A file name for `key`: readable when short, hashed beyond that so it fits any file system. */
function fileName(key: string): string {
  const plain = Array.from(Buffer.from(key, 'utf8'))
    .map((byte) => (isPlain(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`))
    .join('');
  if (plain.length <= MAX_PLAIN_NAME) return `${plain}${SUFFIX}`;
  const digest = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32);
  return `${plain.slice(0, MAX_PLAIN_NAME - 33)}~${digest}${SUFFIX}`;
}

function isPlain(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x5f
  );
}

function parseCheckpoint(file: string, key: string, text: string): ResumeToken {
  let stored: unknown;
  try {
    stored = BSON.EJSON.parse(text, { relaxed: false });
  } catch (error) {
    throw new CheckpointCorruptError(file, `not extended JSON (${(error as Error).message})`);
  }
  if (stored === null || typeof stored !== 'object') throw new CheckpointCorruptError(file, 'not an object');
  const { key: storedKey, token } = stored as { key?: unknown; token?: unknown };
  if (storedKey !== key) throw new CheckpointCorruptError(file, `holds key ${JSON.stringify(storedKey)}, not ${JSON.stringify(key)}`);
  if (token == null) throw new CheckpointCorruptError(file, 'holds no token');
  return token;
}

/** Makes the rename durable; platforms that cannot open a directory (Windows) skip it. */
async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return;
    throw error;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
