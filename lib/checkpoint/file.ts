import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResumeToken } from 'mongodb';
import lockfile from 'proper-lockfile';
import { CheckpointLeaseLostError } from '../errors';
import {
  baseName,
  checkpointName,
  decodeRecord,
  encodeRecord,
  fenceOf,
  fencedNameParts,
  isAbandonedTemporary,
  temporaryName,
  type CheckpointRecord,
} from './file-format';
import {
  assertCheckpointKey,
  assertLease,
  assertPosition,
  assertTtl,
  type AcquireOptions,
  type CheckpointStore,
  type Lease,
  type LeaseInfo,
} from './store';

/** proper-lockfile's floor: a lock is stale after at least 2 s without a refresh. */
const MIN_STALE_MS = 2_000;

interface Held {
  lease: Lease;
  ttlMS: number;
  release: () => Promise<void>;
  /** Set by proper-lockfile when another process took the lock over. */
  compromised?: Error;
}

/**
 * A {@link CheckpointStore} keeping each key's position in a file of a
 * directory, in canonical extended JSON (any BSON position round-trips).
 *
 * - **Lease**: a lock per key (`proper-lockfile`: an atomic `mkdir`, its
 *   modification time refreshed in the background for as long as the
 *   holding process runs); it is stale, and can be taken over, once not
 *   refreshed for `ttlMS` (at least 2 s): when the holder died, or was
 *   paused (SIGSTOP, a long GC, a blocked event loop). Staleness is judged
 *   by the clock of the process looking at it, so machines sharing the
 *   directory over a network need synchronised clocks.
 * - **Fence**: each acquisition claims the next fence by creating
 *   `<key>.f<fence>.checkpoint.json` with an exclusive hard link, so no two
 *   leases ever share a fence; saves replace only their own fence's file,
 *   and `load` reads the highest. A paused former holder's late write can
 *   only land in a superseded file: the position never moves backwards.
 * - **Atomic writes**: a temporary file is written and fsynced, then renamed
 *   (or linked) into place and the directory fsynced, so a crash leaves the
 *   previous file or the new one, never a torn one. (write-file-atomic does
 *   not fsync the directory, nor let us tag temporaries with their writer.)
 * - **Listing** (`leases`, for consumer groups): a key's lease is live while
 *   its lock is held and refreshed within its ttl, the same rule `acquire`
 *   takes a lock over by.
 * - A temporary is only removed, when a lease is acquired, if the process
 *   of this host that wrote it is gone; another process's write in progress
 *   is never touched.
 *
 * @example
 * const store = new FileCheckpointStore('./var/checkpoints');
 * orders.watch([], { checkpoint: { store, key: 'projector' } }).consume(project);
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly held = new Map<string, Held>();

  constructor(
    /** The directory holding the checkpoint files; created on the first acquire. */
    readonly directory: string,
  ) {
    if (typeof directory !== 'string' || directory.length === 0) {
      throw new TypeError('FileCheckpointStore needs a directory path (a non-empty string)');
    }
  }

  async load(key: string): Promise<ResumeToken | undefined> {
    assertCheckpointKey(key);
    return this.serialized(key, async () => (await this.newest(key))?.token);
  }

  async acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    assertCheckpointKey(key);
    assertTtl(options?.ttlMS);
    const { holder, ttlMS } = options;
    if (typeof holder !== 'string' || holder.length === 0) throw new TypeError('acquire() needs a holder (a non-empty string)');
    const mine = this.held.get(key);
    if (mine !== undefined && mine.lease.holder === holder && mine.compromised === undefined) {
      // Re-acquiring under our own lock: a new fence, the same lock.
      mine.lease = await this.serialized(key, () => this.claim(key, holder, ttlMS));
      mine.ttlMS = ttlMS;
      return mine.lease;
    }
    await mkdir(this.directory, { recursive: true });
    // The holder's ttl decides when its lock is stale, as in the other stores.
    const holderTtl = (await this.serialized(key, () => this.newest(key)))?.ttlMS ?? ttlMS;
    const held: Partial<Held> = {};
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.resource(key), {
        lockfilePath: `${this.resource(key)}.lock`,
        realpath: false,
        stale: Math.max(holderTtl, MIN_STALE_MS),
        retries: 0,
        onCompromised: (error) => {
          held.compromised = error;
        },
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
      throw error;
    }
    try {
      const lease = await this.serialized(key, () => this.claim(key, holder, ttlMS));
      this.held.set(key, Object.assign(held, { lease, release, ttlMS }));
      await this.sweep(key);
      return lease;
    } catch (error) {
      await release().catch(() => {});
      throw error;
    }
  }

  /** The lock refreshes itself; renewing checks that nobody took the key over meanwhile. */
  async renew(lease: Lease, ttlMS: number): Promise<Lease> {
    assertLease(lease);
    assertTtl(ttlMS);
    await this.serialized(lease.key, () => this.assertCurrent(lease));
    return lease;
  }

  async save(lease: Lease, token: ResumeToken): Promise<void> {
    assertLease(lease);
    assertPosition(token);
    await this.serialized(lease.key, async () => {
      await this.assertCurrent(lease);
      const ttlMS = this.held.get(lease.key)?.ttlMS;
      const record: CheckpointRecord = { key: lease.key, fence: lease.fence, holder: lease.holder, ttlMS, token, savedAt: new Date() };
      const file = join(this.directory, checkpointName(lease.key, lease.fence));
      await this.write(file, encodeRecord(record), (temporary) => rename(temporary, file));
    });
  }

  async release(lease: Lease): Promise<void> {
    assertLease(lease);
    const held = this.held.get(lease.key);
    if (held === undefined || held.lease.fence !== lease.fence) return;
    this.held.delete(lease.key);
    const current = held.compromised === undefined && (await this.highestFence(lease.key)) === lease.fence;
    // A lost lock's directory now belongs to the new holder: only forget ours.
    if (current) await held.release().catch(() => {});
    else await this.forget(lease.key);
  }

  /**
   * The live leases on keys starting with `prefix`: each key's newest record
   * whose lock is held and fresh. A lock is live until it has gone
   * unrefreshed for its holder's ttl (at least 2 s), the rule `acquire`
   * takes it over by; `expiresAt` is its last refresh plus that.
   */
  async leases(prefix: string): Promise<LeaseInfo[]> {
    if (typeof prefix !== 'string') throw new TypeError(`leases() needs a key prefix (a string), got ${typeof prefix}`);
    // File names escape keys byte by byte, so a key under the prefix has a name under the prefix's:
    // only names shortened to a digest (long keys) must be read to be told apart. Groups poll this.
    const escaped = baseName(prefix);
    const candidate = (base: string) => escaped.includes('~') || base.includes('~') || base.startsWith(escaped);
    const newest = new Map<string, { fence: number; name: string }>();
    for (const name of await this.names()) {
      const parts = fencedNameParts(name);
      if (parts !== undefined && candidate(parts.base) && parts.fence > (newest.get(parts.base)?.fence ?? 0)) newest.set(parts.base, { fence: parts.fence, name });
    }
    const live: LeaseInfo[] = [];
    for (const { name } of newest.values()) {
      const record = await readRecord(join(this.directory, name));
      if (record === undefined || !record.key.startsWith(prefix) || record.holder === undefined) continue;
      const refreshed = await modifiedAt(`${this.resource(record.key)}.lock`);
      if (refreshed === undefined) continue;
      const expiresAt = refreshed + Math.max(record.ttlMS ?? MIN_STALE_MS, MIN_STALE_MS);
      if (expiresAt > Date.now()) live.push({ key: record.key, holder: record.holder, fence: record.fence, expiresAt: new Date(expiresAt) });
    }
    return live;
  }

  /** Claims the next fence with an exclusive link, so no two leases ever get the same one. */
  private async claim(key: string, holder: string, ttlMS: number): Promise<Lease> {
    for (;;) {
      const previous = await this.newest(key);
      const fence = (previous?.fence ?? 0) + 1;
      const record: CheckpointRecord = { key, fence, holder, ttlMS };
      if (previous?.token !== undefined) Object.assign(record, { token: previous.token, savedAt: previous.savedAt });
      const file = join(this.directory, checkpointName(key, fence));
      try {
        await this.write(file, encodeRecord(record), (temporary) => link(temporary, file));
      } catch (error) {
        // A holder paused inside its own acquire claimed this fence after all: take the next one.
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      await this.removeSuperseded(key, fence);
      return { key, holder, fence };
    }
  }

  private async assertCurrent(lease: Lease): Promise<void> {
    const held = this.held.get(lease.key);
    if (held?.compromised !== undefined && held.lease.fence === lease.fence) {
      throw new CheckpointLeaseLostError(lease.key, lease.fence, `its lock was taken over (${held.compromised.message})`);
    }
    const highest = await this.highestFence(lease.key);
    if (highest !== undefined && highest > lease.fence) {
      throw new CheckpointLeaseLostError(lease.key, lease.fence, `the key is now held with fence ${highest}`);
    }
  }

  /** The newest checkpoint record of `key`. */
  private async newest(key: string): Promise<CheckpointRecord | undefined> {
    const fence = await this.highestFence(key);
    if (fence === undefined) return undefined;
    const file = join(this.directory, checkpointName(key, fence));
    return decodeRecord(file, key, await readFile(file, 'utf8'));
  }

  private async highestFence(key: string): Promise<number | undefined> {
    let highest: number | undefined;
    for (const name of await this.names()) {
      const fence = fenceOf(key, name);
      if (fence !== undefined && (highest === undefined || fence > highest)) highest = fence;
    }
    return highest;
  }

  private async removeSuperseded(key: string, fence: number): Promise<void> {
    const old = (await this.names()).filter((name) => (fenceOf(key, name) ?? fence) < fence);
    await Promise.all(old.map((name) => rm(join(this.directory, name), { force: true })));
  }

  private async sweep(key: string): Promise<void> {
    const abandoned = (await this.names()).filter((name) => isAbandonedTemporary(key, name));
    await Promise.all(abandoned.map((name) => rm(join(this.directory, name), { force: true })));
  }

  private async names(): Promise<string[]> {
    try {
      return await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Writes `body` to a temporary, fsyncs it, puts it in place with `place`, fsyncs the directory. */
  private async write(file: string, body: string, place: (temporary: string) => Promise<void>): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    const temporary = temporaryName(file);
    try {
      const handle = await open(temporary, 'wx', 0o644);
      try {
        await handle.writeFile(body, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await place(temporary);
    } finally {
      await rm(temporary, { force: true });
    }
    await syncDirectory(this.directory);
  }

  /**
   * Drops proper-lockfile's record of our lock without removing the lock
   * directory (which another holder may own now): unlocking with a lock path
   * that does not exist clears its refresh timer and its exit hook.
   */
  private async forget(key: string): Promise<void> {
    await lockfile.unlock(this.resource(key), { realpath: false, lockfilePath: `${this.resource(key)}.gone` }).catch(() => {});
  }

  /** The path proper-lockfile knows the key's lock by (one per key, so keys never share a lock). */
  private resource(key: string): string {
    return join(this.directory, baseName(key));
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

/** A checkpoint file's record, read for its own key; `undefined` when it went away meanwhile (superseded). */
async function readRecord(file: string): Promise<CheckpointRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return decodeRecord(file, undefined, text);
}

/** A lock directory's last refresh (ms since the epoch); `undefined` when it is not held. */
async function modifiedAt(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Makes a rename durable; platforms that cannot open a directory (Windows) skip it. */
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
