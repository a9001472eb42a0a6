/**
 * The dashboard's HTTP server (node:http, no framework): the static page,
 * one Server-Sent Events stream per tab, two JSON snapshots and the
 * step-down button's endpoint. Every failure is a JSON `{ error }` with a
 * 4xx/5xx status.
 *
 * It listens on 127.0.0.1 unless told otherwise, answers only requests
 * whose `Host` names it (a DNS-rebinding page names its own domain), and
 * takes the step-down POST only from its own page (`Origin`): a page on
 * another site cannot step the primary down, nor read the feed.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { auditTime, catchError, firstValueFrom, interval, map, merge, of, take, type Subscription } from 'rxjs';
import type { RxMongoClient } from '../../lib';
import { FilterError, matches, parseFilter, type FeedFilter } from './filter';
import { DashboardHub, type HubObserveOptions } from './hub';
import { SSE_KEEPALIVE, sseFrame, streamEvents } from './sse';
import { topologyView } from './views';

export interface DashboardOptions {
  client: RxMongoClient;
  /** The database whose changes are shown. */
  database: string;
  /** 0 picks a free port. */
  port?: number;
  /** The address to listen on; default `127.0.0.1` (this machine only). */
  host?: string;
  /**
   * Host names (optionally `name:port`) the browser may use besides
   * `localhost`, `127.0.0.1`, `[::1]` and `host`, e.g. the machine's name
   * when listening on another interface.
   */
  allowedHosts?: readonly string[];
  /** What the page's header says about the server (`label`) and why it was chosen (`reason`, on hover). */
  backend?: { label: string; reason: string };
  /** How often an idle stream gets a comment line (ms, default 15 000). */
  keepaliveMs?: number;
  /** How far a tab may fall behind before it is dropped and reconnects (bytes, default 1 MiB). */
  maxBufferedBytes?: number;
  /** Sampling of the lag and headroom tiles. */
  observe?: HubObserveOptions;
}

export interface Dashboard {
  /** Where the page is, e.g. `http://127.0.0.1:8030/`. */
  readonly url: string;
  readonly hub: DashboardHub;
  readonly server: Server;
  /** Ends every tab's stream, stops the shared pipelines and the HTTP server. Idempotent. */
  close(): Promise<void>;
}

const PAGES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const ROUTES: Record<string, string> = {
  ...Object.fromEntries(Object.keys(PAGES).map((path) => [path, 'GET'])),
  '/api/events': 'GET',
  '/api/topology': 'GET',
  '/api/stats': 'GET',
  '/api/step-down': 'POST',
};

/** Starts the hub and the HTTP server; resolves once it listens. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { client } = options;
  const hub = new DashboardHub(client, options.database, options.observe);
  const pages = new Map(
    Object.entries(PAGES).map(([path, page]) => [path, { type: page.type, body: readFileSync(join(__dirname, 'public', page.file)) }]),
  );
  const streams = new Set<Subscription>();
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1 << 20;
  let steppingDown = false;

  const openStream = (res: ServerResponse, wanted: FeedFilter): void => {
    const changes$ = merge(
      hub.recent$.pipe(
        take(1),
        map((items) => sseFrame('backlog', items.filter((item) => matches(wanted, item.ns, item.op)))),
      ),
      hub.feed(wanted).pipe(map((item) => sseFrame('change', item))),
      hub.rates$.pipe(map((points) => sseFrame('rates', points))),
      hub.stats$.pipe(auditTime(250), map((stats) => sseFrame('stats', stats))),
      hub.lag$.pipe(map((lag) => sseFrame('lag', lag))),
      hub.headroom$.pipe(map((headroom) => sseFrame('headroom', headroom))),
    ).pipe(
      // A change stream that failed for good (rxmongo retries the transient
      // errors) is reported once; the topology keeps streaming.
      catchError((error: unknown) => of(sseFrame('failure', { message: `change stream failed: ${messageOf(error)}` }))),
    );
    const frames$ = merge(
      of(sseFrame('hello', { backend: options.backend ?? null, database: hub.database, filter: describeFilter(wanted) })),
      hub.topology$.pipe(map((view) => sseFrame('topology', view))),
      changes$,
      interval(keepaliveMs).pipe(map(() => SSE_KEEPALIVE)),
    );
    const stream = streamEvents(res, frames$, { maxBufferedBytes, retryMs: 1000 });
    streams.add(stream);
    stream.add(() => streams.delete(stream));
  };

  const stepDown = (res: ServerResponse): void => {
    const from = client.primary;
    if (from === null) return sendError(res, 409, 'no primary is known right now; wait for the election to finish');
    if (steppingDown) return sendError(res, 409, 'a step-down is already in progress');
    steppingDown = true;
    client
      .db('admin')
      // The old primary stays ineligible for 10 s; a secondary gets up to 5 s to catch up first.
      .command({ replSetStepDown: 10, secondaryCatchUpPeriodSecs: 5 })
      .subscribe({
        next: () => sendJson(res, 202, { steppedDown: from }),
        error: (error: unknown) => {
          steppingDown = false;
          sendError(res, 502, `replSetStepDown failed: ${messageOf(error)}`);
        },
        complete: () => {
          steppingDown = false;
        },
      });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const refused = refuseForeign(req, allowedHosts);
    if (refused !== undefined) return sendError(res, 403, refused);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return sendError(res, 400, `malformed request target '${req.url}'`);
    }
    const method = ROUTES[url.pathname];
    if (method === undefined) return sendError(res, 404, `no such route: ${req.method} ${url.pathname}`);
    if (req.method !== method) {
      res.setHeader('Allow', method);
      return sendError(res, 405, `${url.pathname} takes ${method}, not ${req.method}`);
    }
    const page = pages.get(url.pathname);
    if (page) {
      res.writeHead(200, { 'Content-Type': page.type, 'Cache-Control': 'no-cache' });
      res.end(page.body);
      return;
    }
    switch (url.pathname) {
      case '/api/events': {
        let wanted: FeedFilter;
        try {
          wanted = parseFilter(url.searchParams);
        } catch (error) {
          if (error instanceof FilterError) return sendError(res, 400, error.message);
          throw error;
        }
        return openStream(res, wanted);
      }
      case '/api/topology':
        return sendJson(res, 200, topologyView(client.topologyDescription));
      case '/api/stats':
        return sendJson(res, 200, { ...(await firstValueFrom(hub.stats$)), streams: streams.size });
      case '/api/step-down':
        // A plain cross-site form cannot send this content type, so another page cannot fail the cluster over.
        if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
          return sendError(res, 415, 'send the step-down request with Content-Type: application/json');
        }
        return stepDown(res);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, messageOf(error));
      else res.destroy();
    });
  });
  const connection = hub.connect();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    connection.unsubscribe();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const allowedHosts = new Set(
    ['localhost', '127.0.0.1', '[::1]', host, ...(options.allowedHosts ?? [])].map((name) =>
      (/:\d+$/.test(name) && !name.endsWith(']') ? name : `${name}:${address.port}`).toLowerCase(),
    ),
  );

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}/`,
    hub,
    server,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const stream of [...streams]) stream.unsubscribe();
        server.closeAllConnections();
        connection.unsubscribe();
      });
      return closing;
    },
  };
}

/** Methods that change something, and so must come from the dashboard's own page. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Why `req` is refused, or `undefined`: a `Host` that is not this dashboard
 * (DNS rebinding), or for a state-changing method an `Origin` other than
 * the page's own (another site). Clients that send no `Origin` (curl) are
 * not browsers acting for another site.
 */
function refuseForeign(req: IncomingMessage, allowedHosts: ReadonlySet<string>): string | undefined {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!allowedHosts.has(host)) return `refused: Host '${req.headers.host ?? ''}' is not this dashboard`;
  const origin = req.headers.origin;
  if (origin !== undefined && STATE_CHANGING.has(req.method ?? '') && origin.toLowerCase() !== `http://${host}`) {
    return `refused: a ${req.method} from origin '${origin}'; only the dashboard's own page may do that`;
  }
  return undefined;
}

function describeFilter(filter: FeedFilter): { ns: string[]; op: string[] } {
  return { ns: [...filter.namespaces], op: [...filter.operations] };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}
