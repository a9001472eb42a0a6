import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';

describe('MemoryCheckpointStore', () => {
  it('returns undefined for an unknown key and the last saved token per key', async () => {
    const store = new MemoryCheckpointStore();
    await expect(store.load('a')).resolves.toBeUndefined();
    await store.save('a', { _data: '1' });
    await store.save('a', { _data: '2' });
    await store.save('b', { _data: 'x' });
    await expect(store.load('a')).resolves.toEqual({ _data: '2' });
    await expect(store.load('b')).resolves.toEqual({ _data: 'x' });
  });

  it('rejects bad keys and empty tokens through the promise', async () => {
    const store = new MemoryCheckpointStore();
    await expect(store.load('')).rejects.toBeInstanceOf(TypeError);
    await expect(store.save(42 as never, { _data: '1' })).rejects.toBeInstanceOf(TypeError);
    await expect(store.save('a', null)).rejects.toBeInstanceOf(TypeError);
  });
});
