/**
 * RxChangeStream as an Observable factory (fake server): nothing before
 * subscribe, a new cursor per subscription after the previous ended, errors
 * through the error channel, status$ exactly once per occurrence, and the
 * owning client's close ending subscriptions after their last save.
 */
import { MongoServerError, Timestamp } from 'mongodb';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { RxChangeStream, type StreamOwner } from '../../../lib/change-stream';
import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { ClientClosedError } from '../../../lib/errors';
import { FakeServer, token } from './fake-server';
import { fastRetry, recordStatus, until } from './helpers';

describe('RxChangeStream', () => {
  let server: FakeServer;
  beforeEach(() => {
    server = new FakeServer();
  });
  afterEach(async () => {
    await until(() => server.live.length === 0, 'every fake cursor closed');
  });

  it('sends nothing before subscribe and opens a new cursor for each subscription after the last ended', async () => {
    const stream = new RxChangeStream(server.open);
    const status = recordStatus(stream);
    expect(server.opened).toHaveLength(0);
    expect(stream.resumeToken).toBeUndefined();
    const first = firstValueFrom(stream);
    await until(() => status.types().includes('opened'), 'opened');
    server.write(1);
    await expect(first).resolves.toMatchObject({ n: 1 });
    await until(() => status.types().includes('closed'), 'closed');
    const second = lastValueFrom(stream.pipe(take(2), toArray()));
    await until(() => status.types().filter((t) => t === 'opened').length === 2, 'second opened');
    server.write(2);
    await expect(second).resolves.toMatchObject([{ n: 2 }, { n: 3 }]);
    expect(server.count('aggregate')).toBe(2);
  });

  it('reports each occurrence exactly once, in order, to every status$ subscriber', async () => {
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], {
      retry: fastRetry,
      checkpoint: { store, key: 'k', every: { events: 2, ms: 60_000 } },
      onHistoryLost: 'restartFromNow',
    });
    const a = recordStatus(stream);
    const b = recordStatus(stream);
    const sub = stream.subscribe();
    await until(() => a.types().includes('opened'), 'opened');
    server.write(2);
    await until(() => a.types().includes('checkpointed'), 'checkpointed');
    server.fail(
      'getMore',
      new MongoServerError({ message: 'history lost', code: 286, operationTime: new Timestamp({ t: 0, i: 2 }) }),
    );
    server.write(1);
    await until(() => a.types().includes('resumed'), 'resumed');
    sub.unsubscribe();
    await until(() => a.types().includes('closed'), 'closed');
    expect(a.types()).toEqual(['opened', 'checkpointed', 'historyLost', 'retrying', 'resumed', 'checkpointed', 'closed']);
    expect(b.log).toEqual(a.log);
    expect(a.log[1]).toEqual({ type: 'checkpointed', key: 'k', token: token(2) });
    expect(a.log[2]).toMatchObject({ type: 'historyLost', token: token(2), policy: 'restartFromNow' });
    expect(a.log[6]).toEqual({ type: 'closed', reason: 'unsubscribed' });
  });

  it("ends every subscription, after its last save, when its owner closes", async () => {
    const hooks = new Set<() => void | Promise<void>>();
    const owner: StreamOwner = {
      onClose: (hook) => {
        hooks.add(hook);
        return () => hooks.delete(hook);
      },
    };
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store, key: 'k', every: { events: 1000 } } }, owner);
    const status = recordStatus(stream);
    const errors: unknown[] = [];
    let savedWhenErrored: unknown;
    stream.subscribe({
      error: (e: unknown) => {
        errors.push(e);
        void store.load('k').then((t) => (savedWhenErrored = t));
      },
    });
    await until(() => status.types().includes('opened'), 'opened');
    server.write(3);
    await until(() => JSON.stringify(stream.resumeToken) === JSON.stringify(token(3)), 'handled 3');
    expect(hooks.size).toBe(1);
    await Promise.all([...hooks].map((hook) => hook()));
    expect(server.live).toHaveLength(0);
    expect(await store.load('k')).toEqual(token(3));
    await until(() => errors.length === 1 && savedWhenErrored !== undefined, 'error delivered');
    expect(errors[0]).toBeInstanceOf(ClientClosedError);
    expect(hooks.size).toBe(0);
  });
});
