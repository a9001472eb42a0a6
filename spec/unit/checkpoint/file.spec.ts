import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Binary, Timestamp } from 'mongodb';
import { FileCheckpointStore } from '../../../lib/checkpoint/file';
import { CheckpointCorruptError } from '../../../lib/errors';

// The module object itself (not an interop copy), so spies reach the store's calls.
import fs = require('node:fs/promises');

describe('FileCheckpointStore', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'rxmongo-checkpoints-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(directory, { recursive: true, force: true });
  });

  it('loads undefined before any save, creating nothing', async () => {
    const store = new FileCheckpointStore(join(directory, 'not-yet'));
    await expect(store.load('orders')).resolves.toBeUndefined();
    await expect(readdir(directory)).resolves.toEqual([]);
  });

  it('round-trips any BSON token exactly, one file per key, no temporary left behind', async () => {
    const store = new FileCheckpointStore(join(directory, 'nested', 'dir'));
    const binaryToken = { _data: new Binary(Buffer.from([1, 2, 3])), ts: new Timestamp({ t: 7, i: 9 }) };
    await store.save('a', { _data: '8263A1' });
    await store.save('b', binaryToken);
    await expect(store.load('a')).resolves.toEqual({ _data: '8263A1' });
    const loaded = (await store.load('b')) as typeof binaryToken;
    expect(loaded._data).toBeInstanceOf(Binary);
    expect(Buffer.from(loaded._data.buffer)).toEqual(Buffer.from([1, 2, 3]));
    expect(loaded.ts.equals(binaryToken.ts)).toBe(true);
    const files = await readdir(join(directory, 'nested', 'dir'));
    expect(files.sort()).toEqual(['a.checkpoint.json', 'b.checkpoint.json']);
  });

  it('writes a temporary file, fsyncs it, renames it over the checkpoint, then fsyncs the directory', async () => {
    const store = new FileCheckpointStore(directory);
    await store.save('k', { _data: '1' });
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
    await store.save('k', { _data: '2' });
    expect(steps).toEqual(['open tmp', 'fsync tmp', 'rename tmp -> k.checkpoint.json', 'open dir', 'fsync dir']);
    await expect(store.load('k')).resolves.toEqual({ _data: '2' });
  });

  it('a crash before the rename leaves the previous checkpoint; its temporary is swept on load', async () => {
    const store = new FileCheckpointStore(directory);
    await store.save('k', { _data: 'old' });
    const file = store.fileOf('k');
    await writeFile(`${file}.99999.deadbeef0000.tmp`, '{"key":"k","token":{"_da'); // torn write of a crashed process
    await expect(new FileCheckpointStore(directory).load('k')).resolves.toEqual({ _data: 'old' });
    await expect(readdir(dirname(file))).resolves.toEqual([basename(file)]);
  });

  it('serializes concurrent saves of one key: the last call wins', async () => {
    const store = new FileCheckpointStore(directory);
    await Promise.all([1, 2, 3, 4, 5].map((n) => store.save('k', { _data: String(n) })));
    await expect(store.load('k')).resolves.toEqual({ _data: '5' });
  });

  it('keeps odd keys inside the directory and apart from each other', async () => {
    const store = new FileCheckpointStore(directory);
    const keys = ['../escape', 'a/b', 'a%2Fb', 'ünï', 'x'.repeat(300), `${'x'.repeat(299)}y`];
    for (const [i, key] of keys.entries()) await store.save(key, { _data: String(i) });
    for (const [i, key] of keys.entries()) await expect(store.load(key)).resolves.toEqual({ _data: String(i) });
    const files = await readdir(directory);
    expect(files).toHaveLength(keys.length);
    expect(files.every((f) => f.length <= 140 && !f.includes('/'))).toBe(true);
  });

  it('reports a damaged or foreign file as CheckpointCorruptError', async () => {
    const store = new FileCheckpointStore(directory);
    await writeFile(store.fileOf('bad'), 'not json');
    await expect(store.load('bad')).rejects.toBeInstanceOf(CheckpointCorruptError);
    await store.save('other', { _data: '1' });
    await writeFile(store.fileOf('moved'), await readFile(store.fileOf('other'), 'utf8'));
    await expect(store.load('moved')).rejects.toThrow(/holds key "other"/);
  });

  it('rejects a bad directory at construction and bad keys or tokens through the promise', async () => {
    expect(() => new FileCheckpointStore('')).toThrow(TypeError);
    const store = new FileCheckpointStore(directory);
    await expect(store.load('')).rejects.toBeInstanceOf(TypeError);
    await expect(store.save('k', undefined)).rejects.toBeInstanceOf(TypeError);
  });
});
