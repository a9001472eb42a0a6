import { BehaviorSubject, lastValueFrom, type Observable } from 'rxjs';
import { RxMongoClient } from '../../../lib/client/client';
import { TopologyState } from '../../../lib/topology';
import { installTopologyMembers, type TopologyMembers, type TopologySource } from '../../../lib/topology/members';
import { TOPOLOGY_KEYS, UNKNOWN_VIEW, type TopologyKey } from '../../../lib/topology/properties';
import { FakeDriver } from './fake-driver';

describe('installTopologyMembers', () => {
  it('defines a getter and a subject getter per table entry, reading from the source', () => {
    const reads: string[] = [];
    const subjects = new Map(TOPOLOGY_KEYS.map((key) => [key, new BehaviorSubject<unknown>(key)]));
    const source: TopologySource = {
      read: (key) => {
        reads.push(key);
        return UNKNOWN_VIEW[key];
      },
      subject: <K extends TopologyKey>(key: K) => subjects.get(key) as never,
    };
    class Host {}
    installTopologyMembers(Host.prototype, () => source);
    const host = new Host() as TopologyMembers;
    for (const key of TOPOLOGY_KEYS) {
      expect(host[key]).toBe(UNKNOWN_VIEW[key]);
      expect(host[`${key}$`]).toBe(subjects.get(key));
    }
    expect(reads).toEqual(TOPOLOGY_KEYS);
  });

  it.each([
    ['TopologyState', TopologyState.prototype],
    ['RxMongoClient', RxMongoClient.prototype],
  ])('gives %s every property of the table, as read-only getters', (_, prototype) => {
    for (const key of TOPOLOGY_KEYS.flatMap((k) => [k, `${k}$`])) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
      expect(descriptor?.get).toEqual(expect.any(Function));
      expect(descriptor?.set).toBeUndefined();
    }
  });

  it('hands the client the same subject on every read, and the unknown values before discovery', async () => {
    const client = new RxMongoClient('mongodb://127.0.0.1:1');
    try {
      for (const key of TOPOLOGY_KEYS) {
        expect(client[`${key}$`]).toBe(client[`${key}$`]);
        expect(client[`${key}$`].value).toEqual(UNKNOWN_VIEW[key]);
        expect(client[key]).toEqual(UNKNOWN_VIEW[key]);
      }
    } finally {
      await lastValueFrom(client.close(), { defaultValue: undefined });
    }
  });

  it('completes every subject of a TopologyState on complete()', () => {
    const state = new TopologyState(new FakeDriver().asClient);
    const completed: string[] = [];
    for (const key of TOPOLOGY_KEYS) (state[`${key}$`] as Observable<unknown>).subscribe({ complete: () => completed.push(key) });
    state.complete();
    expect(completed).toEqual(TOPOLOGY_KEYS);
  });
});
