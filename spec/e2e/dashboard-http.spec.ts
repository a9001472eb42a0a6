/**
 * The dashboard's HTTP side without a browser: routes, bad input, the
 * event stream and its filters, and that tabs coming and going share one
 * server cursor and leave nothing behind.
 */
import type { CommandStartedEvent } from 'mongodb';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { startDashboard, type Dashboard } from '../../demos/dashboard/server';
import type { HubStats } from '../../demos/dashboard/hub';
import type { FeedItem, HeadroomView, LagView, TopologyView } from '../../demos/dashboard/views';
import { RxMongoClient } from '../../lib';
import { backend, driverClient, uniqueDbName } from '../support/backend';
import { EventStream, httpRequest, settle } from './http-client';

/** The client-side events the driver client may hold listeners for. */
const DRIVER_EVENTS = [
  'commandStarted',
  'commandSucceeded',
  'commandFailed',
  'topologyOpening',
  'topologyClosed',
  'topologyDescriptionChanged',
  'serverDescriptionChanged',
  'serverHeartbeatStarted',
  'serverHeartbeatSucceeded',
  'serverHeartbeatFailed',
  'connectionPoolCreated',
  'connectionCheckedOut',
  'connectionCheckedIn',
] as const;

describe('dashboard HTTP server', () => {
  const database = uniqueDbName('dashboard');
  let client: RxMongoClient;
  let dashboard: Dashboard;
  const streamsOpened: CommandStartedEvent[] = [];
  const cursorsKilled: CommandStartedEvent[] = [];
  const open: EventStream[] = [];

  const url = (path: string): string => new URL(path, dashboard.url).toString();
  const stats = (): Promise<HubStats> => firstValueFrom(dashboard.hub.stats$);
  const stream = async (path: string): Promise<EventStream> => {
    const s = await EventStream.open(url(path));
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    client = new RxMongoClient(backend().uri, { monitorCommands: true, heartbeatFrequencyMS: 500 });
    client.driver.on('commandStarted', (event) => {
      if (event.commandName === 'aggregate' && event.command.pipeline?.[0]?.$changeStream) streamsOpened.push(event);
      if (event.commandName === 'killCursors') cursorsKilled.push(event);
    });
    dashboard = await startDashboard({
      client,
      database,
      port: 0,
      keepaliveMs: 200,
      observe: { sampleMS: 100, headroomEvery: 100, headroomMarginMS: 0 },
    });
    // The hub's own pipelines hold the change stream from the start.
    await settle(stats, (s) => s.openCursors === 1, 20_000);
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  afterAll(async () => {
    await dashboard?.close();
    const raw = driverClient();
    await raw.db(database).dropDatabase().finally(() => raw.close());
    await lastValueFrom(client.close(), { defaultValue: undefined });
  });

  it('serves the page, its script and its stylesheet', async () => {
    const page = await httpRequest(url('/'));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<script src="/app.js"');
    const script = await httpRequest(url('/app.js'));
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.text).toContain("new EventSource('/api/events'");
    const css = await httpRequest(url('/style.css'));
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it.each(['/nope', '/api', '/api/', '/api/events/extra', '/app.js/x', '/index.html', '/%2e%2e/package.json', '/public/app.js'])(
    'answers the unknown route %s with 404 and a message',
    async (path) => {
      const reply = await httpRequest(url(path));
      expect(reply.status).toBe(404);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.json).toEqual({ error: expect.stringMatching(/^no such route: GET \//) });
    },
  );

  it.each([
    ['POST', '/api/events', 'GET'],
    ['GET', '/api/step-down', 'POST'],
    ['DELETE', '/', 'GET'],
    ['PUT', '/api/stats', 'GET'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allowed) => {
    const reply = await httpRequest(url(path), { method });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe(allowed);
    expect(reply.json).toEqual({ error: `${path} takes ${allowed}, not ${method}` });
  });

  it.each([
    ['op=upsert', "unknown operation type 'upsert'"],
    ['op=insert,', "'op' has an empty entry"],
    ['op=', "'op' has an empty entry"],
    ['ns=', "'ns' has an empty entry"],
    ['ns=shop.orders&ns=shop.carts', "'ns' given more than once"],
    ['ns=bad$db.orders', "malformed namespace 'bad$db.orders'"],
    ['ns=shop.or$ders', "malformed namespace 'shop.or$ders'"],
    ['ns=shop.', "malformed namespace 'shop.'"],
    ['ns=shop..orders', "malformed namespace 'shop..orders'"],
    ['ns=.orders', "malformed namespace '.orders'"],
    ['ns=a%20b.c', "malformed namespace 'a b.c'"],
    [`ns=${'d'.repeat(64)}.c`, 'malformed namespace'],
    [`ns=${Array.from({ length: 33 }, (_, i) => `db.c${i}`).join(',')}`, "'ns' has more than 32 entries"],
    ['namespace=shop.orders', "unknown query parameter 'namespace'"],
  ])('rejects the filter ?%s with 400: %s', async (query, message) => {
    const reply = await httpRequest(url(`/api/events?${query}`));
    expect(reply.status).toBe(400);
    expect((reply.json as { error: string }).error).toContain(message);
  });

  it('refuses a step-down request that is not JSON (a cross-site form post) with 415', async () => {
    const reply = await httpRequest(url('/api/step-down'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    });
    expect(reply.status).toBe(415);
    expect((reply.json as { error: string }).error).toContain('Content-Type: application/json');
  });

  it('listens on 127.0.0.1 unless told otherwise', () => {
    expect((dashboard.server.address() as { address: string }).address).toBe('127.0.0.1');
    expect(new URL(dashboard.url).hostname).toBe('127.0.0.1');
  });

  it.each([
    ['another site (cross-origin POST)', { Origin: 'http://evil.example' }],
    ['a sandboxed or file page (Origin: null)', { Origin: 'null' }],
    ['the right host over another scheme', { Origin: 'https://127.0.0.1' }],
  ])('refuses a step-down from %s with 403, before doing anything', async (_from, headers) => {
    const reply = await httpRequest(url('/api/step-down'), {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(reply.status).toBe(403);
    expect((reply.json as { error: string }).error).toMatch(/^refused: a POST from origin/);
  });

  it('refuses a request naming another host (DNS rebinding) with 403, reads included', async () => {
    const port = new URL(dashboard.url).port;
    for (const [method, path] of [
      ['POST', '/api/step-down'],
      ['GET', '/api/topology'],
      ['GET', '/api/events'],
    ]) {
      const reply = await httpRequest(url(path), {
        method,
        headers: { Host: `rebound.evil.example:${port}`, Origin: `http://rebound.evil.example:${port}`, 'Content-Type': 'application/json' },
        body: method === 'POST' ? '{}' : undefined,
      });
      expect([method, path, reply.status]).toEqual([method, path, 403]);
      expect((reply.json as { error: string }).error).toBe(`refused: Host 'rebound.evil.example:${port}' is not this dashboard`);
    }
  });

  it('lets its own page through: same-origin POST reaches the endpoint, localhost works too', async () => {
    const { host, port } = new URL(dashboard.url);
    // A form content type stops the request at the endpoint's own check (415), after the origin checks passed.
    for (const origin of [`http://${host}`, `http://localhost:${port}`]) {
      const reply = await httpRequest(url('/api/step-down'), {
        method: 'POST',
        headers: { Host: new URL(origin).host, Origin: origin, 'Content-Type': 'text/plain' },
        body: 'x',
      });
      expect([origin, reply.status]).toEqual([origin, 415]);
    }
    const viaLocalhost = await httpRequest(url('/api/topology'), { headers: { Host: `localhost:${port}` } });
    expect(viaLocalhost.status).toBe(200);
  });

  it('serves the topology as JSON', async () => {
    const reply = await httpRequest(url('/api/topology'));
    expect(reply.status).toBe(200);
    const view = reply.json as TopologyView;
    expect(view.members.length).toBeGreaterThanOrEqual(1);
    expect(view.members.map((m) => m.address)).toContain(view.primary);
  });

  it('streams hello, topology, and the changes each tab filtered for', async () => {
    const all = await stream('/api/events');
    const ordersInserts = await stream(`/api/events?ns=${database}.orders&op=insert`);
    const wholeDb = await stream(`/api/events?ns=${database}&op=update,delete`);
    const hello = await all.next<{ database: string; filter: unknown }>('hello');
    expect(hello).toMatchObject({ database, filter: { ns: [], op: [] } });
    expect(await ordersInserts.next('hello')).toMatchObject({ filter: { ns: [`${database}.orders`], op: ['insert'] } });
    const topology = await all.next<TopologyView>('topology', (t) => t.primary !== null);
    expect(topology.members.find((m) => m.address === topology.primary)?.type).toBe('RSPrimary');
    await settle(stats, (s) => s.feedSubscriptions === 3);

    const raw = driverClient();
    try {
      const db = raw.db(database);
      await db.collection('orders').insertOne({ _id: 'o1' as never, seq: 1 });
      await db.collection('carts').insertOne({ _id: 'c1' as never });
      await db.collection('orders').updateOne({ _id: 'o1' as never }, { $set: { status: 'shipped' } });
      await db.collection('carts').deleteOne({ _id: 'c1' as never });
    } finally {
      await raw.close();
    }

    const lastOfAll = await all.next<FeedItem>('change', (c) => c.ns === `${database}.carts` && c.op === 'delete');
    expect(lastOfAll.key).toBe('"c1"');
    const seen = (s: EventStream) => s.frames.filter((f) => f.event === 'change').map((f) => `${(f.data as FeedItem).op} ${(f.data as FeedItem).ns}`);
    expect(seen(all)).toEqual([
      `insert ${database}.orders`,
      `insert ${database}.carts`,
      `update ${database}.orders`,
      `delete ${database}.carts`,
    ]);
    await wholeDb.next<FeedItem>('change', (c) => c.op === 'delete');
    expect(seen(wholeDb)).toEqual([`update ${database}.orders`, `delete ${database}.carts`]);
    // The tab's stream ran past the delete too, so the one insert it wants is all it got.
    expect(await ordersInserts.next<FeedItem>('change')).toMatchObject({ op: 'insert', ns: `${database}.orders`, seq: 1 });
    expect(seen(ordersInserts)).toEqual([`insert ${database}.orders`]);
    expect((await stats()).openCursors).toBe(1);
  });

  it('streams the shared change stream’s lag and oplog headroom to each tab', async () => {
    const tab = await stream('/api/events');
    const raw = driverClient();
    try {
      await raw.db(database).collection('orders').insertOne({ _id: 'lag1' as never });
    } finally {
      await raw.close();
    }
    await tab.next<FeedItem>('change', (c) => c.key === '"lag1"');
    const lag = await tab.next<LagView>('lag', (l) => l.lagMs !== null && l.unacknowledged === 0);
    expect(lag.lagMs).toBeGreaterThanOrEqual(0);
    const headroom = await tab.next<HeadroomView>('headroom', (h) => h.positionAgeMs !== null);
    expect(headroom.marginMs).toBe(0);
    if (backend().kind !== 'uri') {
      // The test servers let the dashboard read their oplog: the stream's position is in the window.
      expect(headroom).toMatchObject({ state: 'ok', note: null });
      expect(headroom.headroomMs).toBeGreaterThanOrEqual(0);
      expect(headroom.windowMs).toBeGreaterThanOrEqual(headroom.headroomMs!);
    } else if (headroom.state === 'unknown') {
      expect(headroom.note).toEqual(expect.any(String));
    }
    // Another tab gets the samples too, from the same sampler and cursor.
    const other = await stream('/api/events');
    const next = await other.next<LagView>('lag');
    expect(next).toEqual(expect.objectContaining({ unacknowledged: expect.any(Number) }));
    expect((await stats()).openCursors).toBe(1);
  });

  it('gives a new tab the recent events it missed, filtered', async () => {
    const late = await stream(`/api/events?ns=${database}.carts`);
    const backlog = await late.next<FeedItem[]>('backlog');
    expect(backlog.map((item) => `${item.op} ${item.ns}`)).toEqual([`delete ${database}.carts`, `insert ${database}.carts`]);
  });

  it('serves ten tabs from one server cursor', async () => {
    const before = streamsOpened.length;
    const tabs = await Promise.all(Array.from({ length: 10 }, () => stream('/api/events')));
    await Promise.all(tabs.map((t) => t.next('hello')));
    const during = await settle(stats, (s) => s.feedSubscriptions === 10);
    expect(during.feedSubscriptions).toBe(10);
    expect(during.openCursors).toBe(1);
    expect(streamsOpened.length).toBe(before);
    const reply = await httpRequest(url('/api/stats'));
    expect(reply.json).toMatchObject({ feedSubscriptions: 10, openCursors: 1, streams: 10 });
  });

  it('releases every subscription after 100 connect/disconnect cycles', async () => {
    await settle(stats, (s) => s.feedSubscriptions === 0);
    const listenersBefore = DRIVER_EVENTS.map((e) => client.driver.listenerCount(e));
    const aggregatesBefore = streamsOpened.length;
    const killsBefore = cursorsKilled.length;

    for (let i = 0; i < 100; i++) {
      const s = await EventStream.open(url(i % 2 === 0 ? '/api/events' : `/api/events?ns=${database}.orders&op=insert,update`));
      // Hang up at different moments: as soon as the stream opens, after the first frame, mid-stream.
      if (i % 3 === 1) await s.next('hello');
      if (i % 3 === 2) await s.next('topology');
      s.close();
    }

    const after = await settle(stats, (s) => s.feedSubscriptions === 0);
    expect(after.feedSubscriptions).toBe(0);
    const connections = await settle(
      () => new Promise<number>((resolve, reject) => dashboard.server.getConnections((e, n) => (e ? reject(e) : resolve(n)))),
      (n) => n === 0,
    );
    expect(connections).toBe(0);
    expect((await httpRequest(url('/api/stats'))).json).toMatchObject({ feedSubscriptions: 0, streams: 0, openCursors: 1 });
    // One server cursor throughout: none opened, none killed by the tabs.
    expect(after.openCursors).toBe(1);
    expect(after.cursorsOpened).toBe(1);
    expect(streamsOpened.length).toBe(aggregatesBefore);
    expect(cursorsKilled.length).toBe(killsBefore);
    expect(DRIVER_EVENTS.map((e) => client.driver.listenerCount(e))).toEqual(listenersBefore);
  });

  it('ends its streams and closes the change stream on close()', async () => {
    const tab = await stream('/api/events');
    await tab.next('hello');
    const killsBefore = cursorsKilled.length;
    await dashboard.close();
    await expect(tab.next('never')).rejects.toThrow('the stream ended');
    expect((await stats()).feedSubscriptions).toBe(0);
    // The last subscriber gone, rxmongo kills the one server cursor.
    expect(await settle(() => cursorsKilled.length, (n) => n > killsBefore)).toBe(killsBefore + 1);
    await expect(httpRequest(url('/'))).rejects.toThrow(/ECONNREFUSED/);
  });
});
