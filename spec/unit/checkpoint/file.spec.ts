import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Binary, Timestamp } from 'mongodb';
import lockfile from 'proper-lockfile';
import { FileCheckpointStore } from '../../../lib/checkpoint/file';
import { baseName } from '../../../lib/checkpoint/file-format';
import type { Lease } from '../../../lib/checkpoint/store';
import { CheckpointCorruptError } from '../../../lib/errors';
import { storeContract } from './contract';

// The module object itself (not an interop copy), so spies reach the store's calls.
import fs = require('node:fs/promises');

storeContract('FileCheckpointStore', {
  ttlMS: 2_000,
  // A paused process stops refreshing its lock: drop proper-lockfile's refresh without removing the lock.
  pause: (store, lease) =>
    lockfile.unlock(join((store as FileCheckpointStore).directory, baseName(lease.key)), {
      realpath: false,
      lockfilePath: join((store as FileCheckpointStore).directory, 'paused'),
    }),
  make: async () => {
    const directory = await mkdtemp(join(tmpdir(), 'rxmongo-contract-'));
    const store = new FileCheckpointStore(directory);
    return { store, teardown: () => rm(directory, { recursive: true, force: true }) };
  },
});

describe('FileCheckpointStore', () => {
  let directory: string;
  const held: Array<{ store: FileCheckpointStore; lease: Lease }> = [];
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'rxmongo-checkpoints-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    for (const { store, lease } of held.splice(0)) await store.release(lease);
    await rm(directory, { recursive: true, force: true });
  });

  async function leased(store: FileCheckpointStore, key: string): Promise<Lease> {
    const lease = await store.acquire(key, { holder: 'spec', ttlMS: 60_000 });
    if (lease === undefined) throw new Error('not acquired');
    held.push({ store, lease });
    return lease;
  }

  it('loads undefined before anything, creating nothing', async () => {
    const store = new FileCheckpointStore(join(directory, 'not-yet'));
    await expect(store.load('orders')).resolves.toBeUndefined();
    await expect(readdir(directory)).resolves.toEqual([]);
  });

  it('round-trips any BSON token exactly, one checkpoint file and one lock per key, no temporary left', async () => {
    const store = new FileCheckpointStore(join(directory, 'nested', 'dir'));
    const binaryToken = { _data: new Binary(Buffer.from([1, 2, 3])), ts: new Timestamp({ t: 7, i: 9 }) };
    await store.save(await leased(store, 'a'), { _data: '8263A1' });
    await store.save(await leased(store, 'b'), binaryToken);
    await expect(store.load('a')).resolves.toEqual({ _data: '8263A1' });
    const loaded = (await store.load('b')) as typeof binaryToken;
    expect(loaded._data).toBeInstanceOf(Binary);
    expect(Buffer.from(loaded._data.buffer)).toEqual(Buffer.from([1, 2, 3]));
    expect(loaded.ts.equals(binaryToken.ts)).toBe(true);
    const files = await readdir(join(directory, 'nested', 'dir'));
    expect(files.sort()).toEqual(['a.f1.checkpoint.json', 'a.lock', 'b.f1.checkpoint.json', 'b.lock']);
  });

  it('writes a temporary file, fsyncs it, renames it over its fence file, then fsyncs the directory', async () => {
    const store = new FileCheckpointStore(directory);
    const lease = await leased(store, 'k');
    await store.save(lease, { _data: '1' });
    const steps: string[] = [];
    const realOpen = fs.open;
    jest.spyOn(fs, 'open').mockImplementation(async (path, flags, mode) => {
      const handle = await realOpen(path, flags, mode);
      const name = String(path) === directory ? 'dir' : String(path).endsWith('.tmp') ? 'tmp' : basename(String(path));
      steps.push(`open ${name}`);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        steps.push(`fsync ${name}`);
        return sync();
      };
      return handle;
    });
    const realRename = fs.rename;
    jest.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
      steps.push(`rename tmp -> ${basename(String(to))}`);
      return realRename(from, to);
    });
    await store.save(lease, { _data: '2' });
    expect(steps).toEqual(['open tmp', 'fsync tmp', 'rename tmp -> k.f1.checkpoint.json', 'open dir', 'fsync dir']);
    await expect(store.load('k')).resolves.toEqual({ _data: '2' });
  });

  it("never deletes another process's temporary file while it writes (its save completes)", async () => {
    const writer = new FileCheckpointStore(directory);
    const lease = await leased(writer, 'k');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const writing = new Promise<void>((resolve) => (started = resolve));
    const realOpen = fs.open;
    jest.spyOn(fs, 'open').mockImplementation(async (path, flags, mode) => {
      const handle = await realOpen(path, flags, mode);
      if (!String(path).endsWith('.tmp')) return handle;
      const write = handle.writeFile.bind(handle);
      handle.writeFile = async (...args: Parameters<typeof write>) => {
        started();
        await gate;
        return write(...args);
      };
      return handle;
    });
    const save = writer.save(lease, { _data: 'in-flight' });
    await writing;
    // Another process (here: another pid) loads and acquires the same key meanwhile.
    const pid = Object.getOwnPropertyDescriptor(process, 'pid') as PropertyDescriptor;
    Object.defineProperty(process, 'pid', { value: 999_999, configurable: true });
    try {
      const other = new FileCheckpointStore(directory);
      await other.load('k');
      await expect(other.acquire('k', { holder: 'other', ttlMS: 60_000 })).resolves.toBeUndefined();
    } finally {
      Object.defineProperty(process, 'pid', pid);
    }
    release();
    await expect(save).resolves.toBeUndefined();
    await expect(writer.load('k')).resolves.toEqual({ _data: 'in-flight' });
  });

  it("removes, when acquiring, only temporaries whose writer on this host is gone", async () => {
    const store = new FileCheckpointStore(directory);
    const first = await leased(store, 'k');
    await store.save(first, { _data: 'old' });
    await store.release(first);
    held.length = 0;
    const names = await readdir(directory);
    const file = names.find((n) => n.endsWith('.checkpoint.json')) as string;
    const host = (await import('node:crypto')).createHash('sha256').update((await import('node:os')).hostname()).digest('hex').slice(0, 8);
    const dead = `${file}.2147483646@${host}.abcdef.tmp`; // no such pid
    const alive = `${file}.${process.ppid}@${host}.abcdef.tmp`; // our parent: alive
    const foreign = `${file}.1@0badc0de.abcdef.tmp`; // another host's: its pids mean nothing here
    for (const name of [dead, alive, foreign]) await writeFile(join(directory, name), '{"key":"k","tok');
    await expect(store.load('k')).resolves.toEqual({ _data: 'old' });
    await leased(store, 'k');
    const after = await readdir(directory);
    expect(after).not.toContain(dead);
    expect(after).toEqual(expect.arrayContaining([alive, foreign]));
  });

  it('claims each fence with an exclusive file: a fence taken meanwhile is skipped, never shared', async () => {
    const store = new FileCheckpointStore(directory);
    const first = await leased(store, 'k');
    await store.save(first, { _data: '1' });
    await store.release(first);
    held.length = 0;
    // A holder paused inside its acquire claimed fence 2 after all.
    await writeFile(join(directory, 'k.f2.checkpoint.json'), '{"key":"k","fence":{"$numberInt":"2"},"holder":"paused"}');
    const realLink = fs.link;
    let links = 0;
    jest.spyOn(fs, 'link').mockImplementation(async (from, to) => {
      links += 1;
      if (links === 1) await realLink(from, join(directory, 'k.f3.checkpoint.json')).catch(() => {});
      return realLink(from, to);
    });
    const lease = await leased(store, 'k');
    expect(lease.fence).toBe(4);
  });

  it('keeps odd keys inside the directory and apart from each other', async () => {
    const store = new FileCheckpointStore(directory);
    const keys = ['../escape', 'a/b', 'a%2Fb', 'ünï', 'a.f1', 'x'.repeat(300), `${'x'.repeat(299)}y`];
    for (const [i, key] of keys.entries()) await store.save(await leased(store, key), { _data: String(i) });
    for (const [i, key] of keys.entries()) await expect(store.load(key)).resolves.toEqual({ _data: String(i) });
    const files = await readdir(directory);
    expect(files).toHaveLength(keys.length * 2);
    expect(files.every((f) => f.length <= 140 && !f.includes('/'))).toBe(true);
  });

  it.each([
    ['not JSON (a truncated write)', '{"key":"bad","fence":{"$numberInt":"1"},"tok'],
    ['a null token', '{"key":"bad","fence":{"$numberInt":"1"},"token":null,"savedAt":{"$date":{"$numberLong":"0"}}}'],
    ['a saved record with its token missing', '{"key":"bad","fence":{"$numberInt":"1"},"savedAt":{"$date":{"$numberLong":"0"}}}'],
    ['another key', '{"key":"other","fence":{"$numberInt":"1"},"token":{"_data":"1"}}'],
  ])('reports a checkpoint file holding %s as CheckpointCorruptError, on load and on acquire', async (_what, text) => {
    const store = new FileCheckpointStore(directory);
    await writeFile(join(directory, 'bad.f1.checkpoint.json'), text);
    await expect(store.load('bad')).rejects.toBeInstanceOf(CheckpointCorruptError);
    await expect(store.acquire('bad', { holder: 'a', ttlMS: 60_000 })).rejects.toBeInstanceOf(CheckpointCorruptError);
    expect(await readFile(join(directory, 'bad.f1.checkpoint.json'), 'utf8')).toBe(text);
  });

  it('rejects a bad directory at construction', () => {
    expect(() => new FileCheckpointStore('')).toThrow(TypeError);
  });
});
