/**
 * The dashboard's server side: a few Rx pipelines over one rxmongo client.
 * Every browser tab subscribes to the same `RxChangeStream` (rxmongo
 * multicasts it: one server cursor for all of them) and to the topology
 * subjects; the hub adds what several tabs share (rates, recent events, the
 * continuity check) as explicit connectables.
 */
import {
  BehaviorSubject,
  bufferTime,
  combineLatest,
  connectable,
  defer,
  distinctUntilChanged,
  filter,
  finalize,
  map,
  ReplaySubject,
  scan,
  startWith,
  Subscription,
  type Observable,
} from 'rxjs';
import type { ChangeStreamStatus, RxChangeStream, RxMongoClient } from '../../lib';
import { matches, type FeedFilter } from './filter';
import {
  feedItem,
  headroomView,
  lagView,
  topologyView,
  type Failover,
  type FeedItem,
  type HeadroomView,
  type LagView,
  type RatePoint,
  type TopologyView,
} from './views';

/** How far the feed and the chart reach back. */
const RECENT_EVENTS = 100;
const RATE_SECONDS = 60;

/** Counters a tab shows under the feed, and the leak spec reads. */
export interface HubStats {
  /** Tabs (or other callers of {@link DashboardHub.feed}) subscribed right now. */
  feedSubscriptions: number;
  /** Server cursors the change stream holds right now (opened minus closed). */
  openCursors: number;
  /** Server cursors the change stream has opened since the hub connected. */
  cursorsOpened: number;
  /** Restarts after errors the driver could not resume from. */
  restarts: number;
  events: number;
  /** Inserts carrying the load generator's `seq`, checked for continuity. */
  sequencedInserts: number;
  /** Sequence numbers skipped: events the feed lost. */
  gaps: number;
  /** Sequence numbers seen twice or out of order. */
  repeats: number;
  failovers: Failover[];
}

/** How often the lag and headroom tiles are sampled, and when headroom counts as low. */
export interface HubObserveOptions {
  /** ms between lag samples (default 1000). */
  sampleMS?: number;
  /** ms between reads of the oplog window (default 5000). */
  headroomEvery?: number;
  /** Headroom below this is shown as low and warned about on `status$` (ms, default one hour). */
  headroomMarginMS?: number;
}

interface Continuity {
  events: number;
  sequencedInserts: number;
  gaps: number;
  repeats: number;
  last: ReadonlyMap<string, number>;
}

interface CursorCount {
  open: number;
  opened: number;
  restarts: number;
}

/** The shared pipelines of one dashboard; {@link connect} starts them. */
export class DashboardHub {
  /** The database's change stream: one server cursor for every tab. */
  readonly changes: RxChangeStream;
  /** The topology panel, on every refresh that changes what is drawn. */
  readonly topology$: Observable<TopologyView>;
  /** The last {@link RATE_SECONDS} seconds of events per namespace, once a second. */
  readonly rates$: Observable<RatePoint[]>;
  /** The newest {@link RECENT_EVENTS} events, newest first. */
  readonly recent$: Observable<FeedItem[]>;
  /** {@link HubStats}, whenever a counter moves. */
  readonly stats$: Observable<HubStats>;
  /** The stream's lag (rxmongo's `lag$`, shared by every tab), once per sample. */
  readonly lag$: Observable<LagView>;
  /** The oplog headroom of the stream's position (rxmongo's `headroom$`), once per sample. */
  readonly headroom$: Observable<HeadroomView>;

  private readonly feedSubscriptions = new BehaviorSubject(0);
  private readonly feed$: Observable<FeedItem>;
  private readonly shared: Array<{ connect(): Subscription }>;

  constructor(
    client: RxMongoClient,
    /** The database whose changes the dashboard shows. */
    readonly database: string,
    observe: HubObserveOptions = {},
  ) {
    this.changes = client.db(database).watch([], {
      observe: { name: 'dashboard', sampleMS: observe.sampleMS ?? 1000 },
      headroom: { every: observe.headroomEvery ?? 5000, marginMS: observe.headroomMarginMS ?? 3_600_000 },
    });
    this.feed$ = this.changes.pipe(map(feedItem));
    this.lag$ = this.changes.lag$.pipe(map(lagView));
    this.headroom$ = this.changes.headroom$.pipe(map(headroomView));

    this.topology$ = client.topologyDescription$.pipe(map(topologyView), distinctUntilChanged<TopologyView>(sameJson));

    const rates = connectable(
      this.feed$.pipe(
        bufferTime(1000),
        map((items): RatePoint => ({ t: Date.now(), counts: countBy(items, (i) => i.ns) })),
        scan((window: RatePoint[], point) => [...window.slice(1 - RATE_SECONDS), point], []),
        startWith([]),
      ),
      { connector: () => new ReplaySubject<RatePoint[]>(1), resetOnDisconnect: false },
    );
    const recent = connectable(
      this.feed$.pipe(
        scan((ring: FeedItem[], item) => [item, ...ring.slice(0, RECENT_EVENTS - 1)], []),
        startWith([]),
      ),
      { connector: () => new ReplaySubject<FeedItem[]>(1), resetOnDisconnect: false },
    );
    const continuity = connectable(this.feed$.pipe(scan(checkContinuity, NO_CONTINUITY), startWith(NO_CONTINUITY)), {
      connector: () => new ReplaySubject<Continuity>(1),
      resetOnDisconnect: false,
    });
    const cursors = connectable(this.changes.status$.pipe(scan(countCursors, NO_CURSORS), startWith(NO_CURSORS)), {
      connector: () => new ReplaySubject<CursorCount>(1),
      resetOnDisconnect: false,
    });
    const failovers = connectable(
      client.primary$.pipe(
        map((primary) => ({ primary, at: Date.now() })),
        distinctUntilChanged((a, b) => a.primary === b.primary),
        scan(trackFailovers, { known: null, lostAt: null, failovers: [] }),
        map((s) => s.failovers),
        distinctUntilChanged(),
        startWith([]),
      ),
      { connector: () => new ReplaySubject<Failover[]>(1), resetOnDisconnect: false },
    );
    // The status counters must be listening before the first cursor opens.
    this.shared = [cursors, rates, recent, continuity, failovers];
    this.rates$ = rates;
    this.recent$ = recent;
    this.stats$ = combineLatest([this.feedSubscriptions, cursors, continuity, failovers]).pipe(
      map(([feedSubscriptions, c, k, f]) => ({
        feedSubscriptions,
        openCursors: c.open,
        cursorsOpened: c.opened,
        restarts: c.restarts,
        events: k.events,
        sequencedInserts: k.sequencedInserts,
        gaps: k.gaps,
        repeats: k.repeats,
        failovers: f,
      })),
    );
  }

  /** Starts the shared pipelines (and so the change stream); unsubscribe to stop them. */
  connect(): Subscription {
    const subscription = new Subscription();
    for (const pipeline of this.shared) subscription.add(pipeline.connect());
    return subscription;
  }

  /** One tab's feed: the shared change stream, filtered for that tab. */
  feed(wanted: FeedFilter): Observable<FeedItem> {
    return defer(() => {
      this.feedSubscriptions.next(this.feedSubscriptions.value + 1);
      return this.feed$;
    }).pipe(
      finalize(() => this.feedSubscriptions.next(this.feedSubscriptions.value - 1)),
      filter((item) => matches(wanted, item.ns, item.op)),
    );
  }
}

const NO_CONTINUITY: Continuity = { events: 0, sequencedInserts: 0, gaps: 0, repeats: 0, last: new Map() };
const NO_CURSORS: CursorCount = { open: 0, opened: 0, restarts: 0 };

/** The load generator numbers each collection's inserts 1, 2, 3…: a skipped number is a lost event. */
function checkContinuity(state: Continuity, item: FeedItem): Continuity {
  const events = state.events + 1;
  if (item.seq === null) return { ...state, events };
  const previous = state.last.get(item.ns);
  const last = new Map(state.last).set(item.ns, Math.max(previous ?? item.seq, item.seq));
  let { gaps, repeats } = state;
  if (previous !== undefined && item.seq > previous + 1) gaps += item.seq - previous - 1;
  if (previous !== undefined && item.seq <= previous) repeats += 1;
  return { events, sequencedInserts: state.sequencedInserts + 1, gaps, repeats, last };
}

function countCursors(count: CursorCount, status: ChangeStreamStatus): CursorCount {
  switch (status.type) {
    case 'opened':
      return { ...count, open: count.open + 1, opened: count.opened + 1 };
    case 'resumed':
      return { ...count, restarts: count.restarts + 1 };
    case 'closed':
      return { ...count, open: count.open - 1 };
    default:
      return count;
  }
}

interface FailoverState {
  known: string | null;
  lostAt: number | null;
  failovers: Failover[];
}

function trackFailovers(state: FailoverState, { primary, at }: { primary: string | null; at: number }): FailoverState {
  if (primary === null) return { ...state, lostAt: state.lostAt ?? at };
  if (state.known === null || state.known === primary) return { known: primary, lostAt: null, failovers: state.failovers };
  const failover = { at, from: state.known, to: primary, noPrimaryMs: state.lostAt === null ? 0 : at - state.lostAt };
  return { known: primary, lostAt: null, failovers: [...state.failovers.slice(-9), failover] };
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
