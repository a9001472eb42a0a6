/**
 * The CheckpointStore contract (lib/checkpoint/store.ts) as specs, run on
 * every store: positions load back exactly, a missing checkpoint is not a
 * corrupt one, one live holder per key, fences that only grow, and saves or
 * renewals with an old fence refused so the position never moves backwards.
 */
import { Timestamp } from 'mongodb';
import type { CheckpointStore, Lease } from '../../../lib/checkpoint/store';
import { CheckpointLeaseLostError } from '../../../lib/errors';

export interface ContractOptions {
  /** A fresh, empty store; and its teardown. */
  make(): Promise<{ store: CheckpointStore; teardown(): Promise<void> }>;
  /** The shortest ttl the store honours (the file store's lock: 2 s). */
  ttlMS: number;
  /**
   * Makes `lease`'s holder behave as if its process were paused (stops any
   * background refresh the store does for a live holder); default: nothing.
   */
  pause?(store: CheckpointStore, lease: Lease): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;
const freshKey = () => `key-${process.pid}-${(counter += 1)}`;

export function storeContract(name: string, options: ContractOptions): void {
  describe(`${name}: the CheckpointStore contract`, () => {
    let store: CheckpointStore;
    let teardown: () => Promise<void>;
    const ttlMS = options.ttlMS;

    beforeEach(async () => {
      ({ store, teardown } = await options.make());
    });
    afterEach(async () => {
      await teardown();
    });

    const acquire = async (key: string, holder: string, ttl = 60_000): Promise<Lease> => {
      const lease = await store.acquire(key, { holder, ttlMS: ttl });
      if (lease === undefined) throw new Error(`${holder} could not acquire ${key}`);
      return lease;
    };

    it('loads undefined for a key never used, and for a key only leased', async () => {
      const key = freshKey();
      await expect(store.load(key)).resolves.toBeUndefined();
      const lease = await acquire(key, 'a');
      await expect(store.load(key)).resolves.toBeUndefined();
      await store.release(lease);
      await expect(store.load(key)).resolves.toBeUndefined();
    });

    it('saves and loads back resume tokens and operation times exactly', async () => {
      const key = freshKey();
      const lease = await acquire(key, 'a');
      await store.save(lease, { _data: '8263A1' });
      await expect(store.load(key)).resolves.toEqual({ _data: '8263A1' });
      const time = new Timestamp({ t: 1_700_000_000, i: 7 });
      await store.save(lease, time);
      const loaded = await store.load(key);
      expect(loaded).toBeInstanceOf(Timestamp);
      expect((loaded as Timestamp).equals(time)).toBe(true);
    });

    it('keeps the position and the fence across release and a new holder', async () => {
      const key = freshKey();
      const first = await acquire(key, 'a');
      await store.save(first, { _data: '01' });
      await store.release(first);
      const second = await acquire(key, 'b');
      expect(second.fence).toBeGreaterThan(first.fence);
      await expect(store.load(key)).resolves.toEqual({ _data: '01' });
    });

    it('has one live holder per key: another gets undefined; the holder itself may re-acquire with a new fence', async () => {
      const key = freshKey();
      const a = await acquire(key, 'a');
      await expect(store.acquire(key, { holder: 'b', ttlMS: 60_000 })).resolves.toBeUndefined();
      const again = await acquire(key, 'a');
      expect(again.fence).toBeGreaterThan(a.fence);
      await expect(store.acquire(freshKey(), { holder: 'b', ttlMS: 60_000 })).resolves.toBeDefined();
    });

    it('lets a standby take over an expired lease with a greater fence; the old holder can no longer save or renew', async () => {
      const key = freshKey();
      const old = await acquire(key, 'old', ttlMS);
      await store.save(old, { _data: '05' });
      await expect(store.acquire(key, { holder: 'new', ttlMS })).resolves.toBeUndefined();
      await options.pause?.(store, old);
      let taken: Lease | undefined;
      const deadline = Date.now() + ttlMS * 4 + 2_000;
      while (taken === undefined && Date.now() < deadline) {
        await sleep(Math.max(50, ttlMS / 10));
        taken = await store.acquire(key, { holder: 'new', ttlMS: 60_000 });
      }
      expect(taken).toBeDefined();
      const fresh = taken as Lease;
      expect(fresh.fence).toBeGreaterThan(old.fence);
      await expect(store.load(key)).resolves.toEqual({ _data: '05' });
      await store.save(fresh, { _data: '07' });
      // The paused former holder wakes up: refused, and the position stays where the new holder put it.
      await expect(store.save(old, { _data: '06' })).rejects.toBeInstanceOf(CheckpointLeaseLostError);
      await expect(store.renew(old, ttlMS)).rejects.toBeInstanceOf(CheckpointLeaseLostError);
      await expect(store.load(key)).resolves.toEqual({ _data: '07' });
      // Its release must not free the key from under the new holder.
      await store.release(old);
      await expect(store.acquire(key, { holder: 'third', ttlMS: 60_000 })).resolves.toBeUndefined();
    }, 30_000);

    it('renewing keeps a lease alive past its first ttl', async () => {
      const key = freshKey();
      const lease = await acquire(key, 'a', ttlMS);
      const until = Date.now() + ttlMS * 1.6;
      while (Date.now() < until) {
        await sleep(ttlMS / 4);
        await expect(store.renew(lease, ttlMS)).resolves.toMatchObject({ key, fence: lease.fence });
      }
      await expect(store.acquire(key, { holder: 'b', ttlMS })).resolves.toBeUndefined();
      await store.save(lease, { _data: '09' });
    }, 30_000);

    it('hands out strictly growing fences, never reused', async () => {
      const key = freshKey();
      const fences: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const lease = await acquire(key, `h${i}`);
        fences.push(lease.fence);
        await store.release(lease);
      }
      expect(fences).toEqual([...fences].sort((x, y) => x - y));
      expect(new Set(fences).size).toBe(5);
    });

    it('refuses bad arguments with TypeError or RangeError, through the promise', async () => {
      await expect(store.load('')).rejects.toBeInstanceOf(TypeError);
      await expect(store.acquire('k', { holder: '', ttlMS: 100 })).rejects.toBeInstanceOf(TypeError);
      await expect(store.acquire('k', { holder: 'a', ttlMS: 0 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.acquire('k', { holder: 'a', ttlMS: 2 ** 31 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.save({ key: 'k' } as Lease, { _data: '1' })).rejects.toBeInstanceOf(TypeError);
      const lease = await acquire(freshKey(), 'a');
      await expect(store.save(lease, null)).rejects.toBeInstanceOf(TypeError);
    });

    it('lists the live leases under a prefix (for consumer groups)', async () => {
      if (store.leases === undefined) return;
      const prefix = `${freshKey()}/`;
      const p0 = await acquire(`${prefix}p0`, 'm1');
      await acquire(`${prefix}p1`, 'm2');
      await acquire(`other-${prefix}`, 'm3');
      await store.release(p0);
      const live = await store.leases(prefix);
      expect(live.map((l) => [l.key, l.holder])).toEqual([[`${prefix}p1`, 'm2']]);
      expect(live[0].expiresAt).toBeInstanceOf(Date);
    });

    it('lists leases on long keys and long prefixes alike', async () => {
      if (store.leases === undefined) return;
      const prefix = `${freshKey()}/${'p'.repeat(150)}/`;
      await acquire(`${prefix}${'k'.repeat(150)}`, 'm1');
      await acquire(`${freshKey()}-elsewhere`, 'm2');
      expect((await store.leases(prefix)).map((l) => l.holder)).toEqual(['m1']);
      expect((await store.leases(prefix.slice(0, 20))).map((l) => l.holder)).toEqual(['m1']);
    });

    it('stops listing a lease once its holder stopped renewing for its ttl', async () => {
      if (store.leases === undefined) return;
      const prefix = `${freshKey()}/`;
      const lease = await acquire(`${prefix}p0`, 'm1', ttlMS);
      expect((await store.leases(prefix)).map((l) => l.fence)).toEqual([lease.fence]);
      await options.pause?.(store, lease);
      await sleep(ttlMS + 300);
      expect(await store.leases(prefix)).toEqual([]);
    });
  });
}
