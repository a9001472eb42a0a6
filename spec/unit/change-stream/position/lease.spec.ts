/**
 * The lease as a stream holds it (fake server, memory store): renewed in
 * the background, released on close, lost when the store refuses a renewal
 * or when no renewal succeeds within the ttl.
 */
import { MongoNetworkError } from 'mongodb';
import { firstValueFrom } from 'rxjs';
import { RxChangeStream } from '../../../../lib/change-stream';
import { MemoryCheckpointStore } from '../../../../lib/checkpoint/memory';
import type { CheckpointStore } from '../../../../lib/checkpoint/store';
import { CheckpointLeaseLostError } from '../../../../lib/errors';
import { FakeServer } from '../fake-server';
import { recordStatus, until } from '../helpers';

describe('the lease of a checkpointed stream', () => {
  let server: FakeServer;
  beforeEach(() => {
    server = new FakeServer();
  });
  afterEach(async () => {
    await until(() => server.live.length === 0, 'every fake cursor closed');
  });

  it('is renewed every third of its ttl and given up on close, so a standby takes over at once', async () => {
    const store = new MemoryCheckpointStore();
    let renewals = 0;
    const counting: CheckpointStore = Object.assign(Object.create(store) as CheckpointStore, {
      renew: (...args: Parameters<CheckpointStore['renew']>) => {
        renewals += 1;
        return store.renew(...args);
      },
    });
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store: counting, key: 'k', lease: { ttlMS: 90 } } });
    const status = recordStatus(stream);
    const sub = stream.subscribe();
    await until(() => status.types().includes('opened'), 'opened');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(renewals).toBeGreaterThanOrEqual(5);
    expect(await store.acquire('k', { holder: 'other', ttlMS: 1000 })).toBeUndefined();
    sub.unsubscribe();
    await until(() => status.types().includes('closed'), 'closed');
    await expect(store.acquire('k', { holder: 'other', ttlMS: 1000 })).resolves.toMatchObject({ fence: 2 });
  });

  it('is lost when no renewal succeeds within the ttl: leaseLost, then the stream errors', async () => {
    const store = new MemoryCheckpointStore();
    const unreachable: CheckpointStore = Object.assign(Object.create(store) as CheckpointStore, {
      renew: () => Promise.reject(new MongoNetworkError('store unreachable')),
    });
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store: unreachable, key: 'k', lease: { ttlMS: 90 } } });
    const status = recordStatus(stream);
    const error = await firstValueFrom(stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointLeaseLostError);
    expect(String(error)).toMatch(/not renewed within 90 ms/);
    expect(status.types()).toEqual(expect.arrayContaining(['checkpointError', 'leaseLost', 'closed']));
    expect(status.types().indexOf('leaseLost')).toBeLessThan(status.types().indexOf('closed'));
  });

  it('is lost at once when the store refuses a renewal (another consumer took the key)', async () => {
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store, key: 'k', lease: { ttlMS: 60 } } });
    const status = recordStatus(stream);
    const errored = firstValueFrom(stream).catch((e: unknown) => e);
    await until(() => status.types().includes('opened'), 'opened');
    // Another consumer takes the key over, as after this one's lease expired during a pause.
    const entries = (store as unknown as { entries: Map<string, { expiresAt: number }> }).entries;
    entries.get('k')!.expiresAt = 0;
    await expect(store.acquire('k', { holder: 'other', ttlMS: 60_000 })).resolves.toMatchObject({ fence: 2 });
    await expect(errored).resolves.toBeInstanceOf(CheckpointLeaseLostError);
    expect(status.types()).toContain('leaseLost');
    expect(status.types().filter((t) => t === 'checkpointError')).toEqual([]);
  });
});
