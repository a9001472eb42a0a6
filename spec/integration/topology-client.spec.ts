/**
 * The topology getters and subjects on RxMongoClient itself: connected by a
 * subscription, completed by close().
 */
import { filter, firstValueFrom, lastValueFrom, timeout, toArray, type Observable } from 'rxjs';
import { RxMongoClient } from '../../lib/client/client';
import { backend } from '../support/backend';

const SDAM_EVENTS = [
  'topologyOpening',
  'topologyClosed',
  'topologyDescriptionChanged',
  'serverDescriptionChanged',
  'serverHeartbeatSucceeded',
  'serverHeartbeatFailed',
] as const;

describe('RxMongoClient topology', () => {
  let client: RxMongoClient;

  beforeEach(() => {
    client = new RxMongoClient(backend().uri, { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 10_000 });
  });

  afterEach(async () => {
    await lastValueFrom(client.close(), { defaultValue: undefined });
  });

  function subjects(c: RxMongoClient): Array<Observable<unknown>> {
    return [c.address$, c.primary$, c.secondaries$, c.arbiters$, c.nodes$, c.isPrimary$, c.isMongos$, c.topologyDescription$];
  }

  it('starts unknown, connects when a subject is subscribed, and the getters follow', async () => {
    expect(client.primary).toBeNull();
    expect(client.nodes).toEqual([]);
    expect(client.isPrimary).toBe(false);
    expect(client.topologyDescription.type).toBe('Unknown');

    const primary = await firstValueFrom(
      client.primary$.pipe(
        filter((p) => p !== null),
        timeout(20_000),
      ),
    );
    expect(client.primary).toBe(primary);
    expect(client.primary$.value).toBe(primary);
    expect(client.address).toBe(primary);
    expect(client.isPrimary).toBe(true);
    expect(client.nodes).toContain(primary);
    expect(client.topologyDescription.servers.map((s) => s.address)).toContain(primary);
  });

  it('completes every subject on close() and leaves no SDAM listener on the driver', async () => {
    await firstValueFrom(client.isPrimary$.pipe(filter(Boolean), timeout(20_000)));
    expect(SDAM_EVENTS.some((e) => client.driver.listenerCount(e) > 0)).toBe(true);
    const lasts = subjects(client).map((s$) => lastValueFrom(s$.pipe(toArray())));

    await lastValueFrom(client.close(), { defaultValue: undefined });

    const histories = await Promise.all(lasts);
    // each ends on the unknown state, then completes
    expect(histories.map((h) => h[h.length - 1])).toEqual([
      null,
      null,
      [],
      [],
      [],
      false,
      false,
      expect.objectContaining({ type: 'Unknown', servers: [] }),
    ]);
    expect(SDAM_EVENTS.map((e) => client.driver.listenerCount(e))).toEqual(SDAM_EVENTS.map(() => 0));
    // after close a subscriber only sees completion, and nothing reconnects
    await expect(Promise.all(subjects(client).map((s$) => lastValueFrom(s$.pipe(toArray()))))).resolves.toEqual(
      subjects(client).map(() => []),
    );
  });
});
