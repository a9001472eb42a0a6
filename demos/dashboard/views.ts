/**
 * What the dashboard sends to the browser: small JSON views of rxmongo's
 * topology snapshots and change events, and the pure functions that build
 * them.
 */
import { BSON, type ChangeStreamDocument } from 'mongodb';
import type { OplogHeadroom, StreamLag, TopologySnapshot } from '../../lib';

/** One member row of the topology panel. */
interface MemberView {
  address: string;
  /** The driver's server type: `RSPrimary`, `RSSecondary`, `Unknown`, … */
  type: string;
  /** Smoothed heartbeat round-trip time in ms, one decimal; `null` before the first heartbeat. */
  rttMs: number | null;
  /** Why the member is `Unknown`, if it is. */
  error: string | null;
}

/** The topology panel: rxmongo's `topologyDescription$`, reduced to what is drawn. */
export interface TopologyView {
  type: string;
  setName: string | null;
  primary: string | null;
  members: MemberView[];
}

/** One line of the change feed. */
export interface FeedItem {
  /** The resume token's `_data` (unique per event; the browser dedupes by it). */
  id: string;
  /** `db.collection`, or `db` for database-level events. */
  ns: string;
  op: string;
  /** The document's `_id`, as relaxed extended JSON. */
  key: string | null;
  /** Server wall-clock time of the change (epoch ms). */
  at: number;
  /** The inserted/replaced document or the update description, shortened. */
  summary: string;
  /** The load generator's per-collection sequence number, on its inserts. */
  seq: number | null;
}

/** Events per namespace during one second of the rate chart. */
export interface RatePoint {
  /** End of the second (epoch ms). */
  t: number;
  counts: Record<string, number>;
}

/** A primary change as the dashboard saw it. */
export interface Failover {
  at: number;
  from: string;
  to: string;
  /** How long no primary was known in between (ms). */
  noPrimaryMs: number;
}

/** The lag tile: rxmongo's `lag$`, as drawn. */
export interface LagView {
  /** Age of the newest position the stream read, ms; `null` before it read anything. */
  lagMs: number | null;
  /** Measured from a post-batch token (the stream is quiet) rather than a change. */
  quiet: boolean;
  /** Changes read and not yet handed to every tab. */
  unacknowledged: number;
}

/** The headroom tile: rxmongo's `headroom$`, as drawn. */
export interface HeadroomView {
  /** `ok`, `low` (below the margin), `lost`, or `unknown` (see `note`). */
  state: 'ok' | 'low' | 'lost' | 'unknown';
  /** Time between the oldest oplog entry and the stream's position, ms. */
  headroomMs: number | null;
  /** How much time the oplog spans, ms. */
  windowMs: number | null;
  /** How old the stream's position is, ms. */
  positionAgeMs: number | null;
  marginMs: number;
  /** Why something is unknown, if it is. */
  note: string | null;
}

const SUMMARY_CHARS = 160;

/** The lag tile's view of one `lag$` sample. */
export function lagView(lag: StreamLag): LagView {
  return { lagMs: lag.lagMS ?? null, quiet: lag.quiet, unacknowledged: lag.unacknowledged };
}

/** The headroom tile's view of one `headroom$` sample. */
export function headroomView(sample: OplogHeadroom): HeadroomView {
  const state = sample.lost ? 'lost' : sample.headroomMS === undefined ? 'unknown' : sample.low ? 'low' : 'ok';
  return {
    state,
    headroomMs: sample.headroomMS ?? null,
    windowMs: sample.window?.spanMS ?? null,
    positionAgeMs: sample.position?.ageMS ?? null,
    marginMs: sample.marginMS,
    note: sample.unavailable ?? (sample.position === undefined ? 'the stream has no position yet' : null),
  };
}

/** The topology panel's view of one `topologyDescription$` snapshot. */
export function topologyView(snapshot: TopologySnapshot): TopologyView {
  const primary = snapshot.servers.find((s) => s.type === 'RSPrimary' || s.type === 'Standalone' || s.type === 'Mongos');
  return {
    type: snapshot.type,
    setName: snapshot.setName,
    primary: snapshot.type === 'ReplicaSetNoPrimary' ? null : (primary?.address ?? null),
    members: snapshot.servers.map((s) => ({
      address: s.address,
      type: s.type,
      rttMs: s.roundTripTime === null ? null : Math.round(s.roundTripTime * 10) / 10,
      error: s.error?.message ?? null,
    })),
  };
}

/** A change event as one line of the feed (any event type; fields it lacks are `null`/empty). */
export function feedItem(change: ChangeStreamDocument): FeedItem {
  const event = change as Partial<{
    _id: { _data?: unknown };
    ns: { db: string; coll?: string };
    documentKey: { _id: unknown };
    fullDocument: Record<string, unknown> | null;
    updateDescription: unknown;
    wallTime: Date;
    clusterTime: BSON.Timestamp;
  }>;
  const op = change.operationType;
  const ns = event.ns ? (event.ns.coll ? `${event.ns.db}.${event.ns.coll}` : event.ns.db) : '';
  const body = op === 'update' ? event.updateDescription : event.fullDocument;
  const seq = op === 'insert' ? event.fullDocument?.seq : undefined;
  return {
    id: typeof event._id?._data === 'string' ? event._id._data : ejson(event._id),
    ns,
    op,
    key: event.documentKey ? ejson(event.documentKey._id) : null,
    at: event.wallTime?.getTime() ?? (event.clusterTime ? event.clusterTime.high * 1000 : Date.now()),
    summary: body == null ? '' : shorten(ejson(body)),
    seq: typeof seq === 'number' ? seq : null,
  };
}

function ejson(value: unknown): string {
  return BSON.EJSON.stringify(value as BSON.Document, { relaxed: true });
}

function shorten(text: string): string {
  return text.length <= SUMMARY_CHARS ? text : `${text.slice(0, SUMMARY_CHARS - 1)}…`;
}
