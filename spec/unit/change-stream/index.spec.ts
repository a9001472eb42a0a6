/**
 * RxChangeStream as an Observable factory (fake server): nothing before
 * subscribe, a new cursor per subscription after the previous ended, errors
 * through the error channel, status$ exactly once per occurrence, and the
 * owning client's close ending subscriptions after their last save.
 */
import { MongoServerError, Timestamp } from 'mongodb';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { RxChangeStream } from '../../../lib/change-stream';
import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { ClientClosedError } from '../../../lib/errors';
import { FakeServer, token } from './fake-server';
import { fastRetry, recordStatus, until } from './helpers';

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

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
    await until(() => a.log.some((s) => s.type === 'checkpointed' && sameJson(s.token, token(2))), 'checkpointed 2');
    server.fail(
      'getMore',
      new MongoServerError({ message: 'history lost', code: 286, operationTime: new Timestamp({ t: 0, i: 2 }) }),
    );
    server.write(1);
    await until(() => a.types().includes('resumed'), 'resumed');
    sub.unsubscribe();
    await until(() => a.types().includes('closed'), 'closed');
    // The first run stores its opening position (token 0) before it reports opened.
    expect(a.types()).toEqual([
      'acquired', 'checkpointed', 'opened', 'checkpointed', 'historyLost', 'retrying', 'resumed', 'checkpointed', 'closed',
    ]);
    expect(b.log).toEqual(a.log);
    expect(a.log[0]).toEqual({ type: 'acquired', key: 'k', fence: 1 });
    expect(a.log[1]).toEqual({ type: 'checkpointed', key: 'k', token: token(0) });
    expect(a.log[3]).toEqual({ type: 'checkpointed', key: 'k', token: token(2) });
    expect(a.log[4]).toMatchObject({ type: 'historyLost', token: token(2), policy: 'restartFromNow' });
    expect(a.log[8]).toEqual({ type: 'closed', reason: 'unsubscribed' });
  });

  it("completes every subscription, after its last save, when its owner closes; later subscriptions error", async () => {
    const hooks = new Set<() => void | Promise<void>>();
    const owner = {
      closed: false,
      onClose: (hook: () => void | Promise<void>) => {
        hooks.add(hook);
        return () => hooks.delete(hook);
      },
    };
    const store = new MemoryCheckpointStore();
    const stream = new RxChangeStream(server.open, [], { checkpoint: { store, key: 'k', every: { events: 1000 } } }, owner);
    const status = recordStatus(stream);
    const errors: unknown[] = [];
    let completed = false;
    let savedWhenCompleted: unknown;
    stream.subscribe({
      error: (e: unknown) => errors.push(e),
      complete: () => {
        completed = true;
        void store.load('k').then((t) => (savedWhenCompleted = t));
      },
    });
    await until(() => status.types().includes('opened'), 'opened');
    server.write(3);
    await until(() => JSON.stringify(stream.resumeToken) === JSON.stringify(token(3)), 'handled 3');
    expect(hooks.size).toBe(1);
    owner.closed = true;
    await Promise.all([...hooks].map((hook) => hook()));
    expect(server.live).toHaveLength(0);
    expect(await store.load('k')).toEqual(token(3));
    await until(() => completed && savedWhenCompleted !== undefined, 'completed');
    expect(errors).toEqual([]);
    expect(status.log.at(-1)).toEqual({ type: 'closed', reason: 'clientClosed' });
    expect(hooks.size).toBe(0);
    // Subscribing after close errors, and opens nothing.
    await expect(firstValueFrom(stream)).rejects.toBeInstanceOf(ClientClosedError);
    expect(server.opened).toHaveLength(1);
  });
});
