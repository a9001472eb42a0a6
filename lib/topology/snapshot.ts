/**
 * Immutable, JSON-ready snapshots of the driver's SDAM state: one small
 * builder that reuses frozen pieces between refreshes, so a heartbeat that
 * changes one server allocates one server entry, not a deep clone.
 */
import type { ServerDescription, ServerType, TopologyDescription, TopologyType } from 'mongodb';

/**
 * A server address as the driver writes it: `'host:port'` (IPv6 hosts in
 * brackets, `'[::1]:27017'`). Motor uses `(host, port)` tuples; a string
 * compares by value, serializes as is and keys maps directly.
 */
export type ServerAddress = string;

/** The part of an error a dashboard shows: enough to tell failures apart. */
export interface ErrorSummary {
  readonly name: string;
  readonly message: string;
  /** The server or driver error code, `null` when the error has none. */
  readonly code: number | string | null;
}

/**
 * One server as the client currently sees it: the serializable part of the
 * driver's `ServerDescription` (pymongo's `ServerDescription`).
 */
export interface ServerSnapshot {
  readonly address: ServerAddress;
  /** The driver's `ServerType` (`'RSPrimary'`, `'Mongos'`, `'Unknown'`, …). */
  readonly type: ServerType;
  /** Smoothed round-trip time of the monitor's heartbeats in ms; `null` before the first. */
  readonly roundTripTime: number | null;
  /** Lowest recent round-trip time in ms; `null` before the first heartbeat. */
  readonly minRoundTripTime: number | null;
  /** Wall-clock time (epoch ms) at which the client last refreshed this entry. */
  readonly lastUpdateTime: number;
  /** Why the server is `Unknown`: the failed heartbeat's or operation's error. */
  readonly error: ErrorSummary | null;
  /** Replica-set member tags. */
  readonly tags: Readonly<Record<string, string>>;
  readonly setName: string | null;
  readonly setVersion: number | null;
  /** The primary's election id as hex. */
  readonly electionId: string | null;
  /** The primary this server reports. */
  readonly primary: ServerAddress | null;
  readonly maxWireVersion: number;
}

/**
 * The whole deployment as the client currently sees it: the serializable
 * part of the driver's `TopologyDescription` (Motor's `topology_description`).
 * Deep-frozen; `JSON.stringify` gives the whole picture.
 */
export interface TopologySnapshot {
  /** The driver's `TopologyType` (`'ReplicaSetWithPrimary'`, `'Sharded'`, `'Unknown'`, …). */
  readonly type: TopologyType;
  readonly setName: string | null;
  readonly maxSetVersion: number | null;
  /** Highest election id seen, as hex. */
  readonly maxElectionId: string | null;
  readonly commonWireVersion: number;
  /** Set when the driver cannot talk to some server's wire version. */
  readonly compatibilityError: string | null;
  /** Every server the topology tracks, sorted by address. */
  readonly servers: readonly ServerSnapshot[];
  /** Why the last connection attempt started by a subscription failed. */
  readonly error: ErrorSummary | null;
}

const NO_SERVERS: readonly ServerSnapshot[] = Object.freeze([]);
const NO_TAGS: Readonly<Record<string, string>> = Object.freeze({});
const UNKNOWN: TopologySnapshot = Object.freeze({
  type: 'Unknown',
  setName: null,
  maxSetVersion: null,
  maxElectionId: null,
  commonWireVersion: 0,
  compatibilityError: null,
  servers: NO_SERVERS,
  error: null,
});

/**
 * The unknown start: nothing discovered yet (or nothing known any more).
 * Without an error it is always the same object, so "still unknown" is an
 * identity check.
 */
export function unknownTopology(error: ErrorSummary | null = null): TopologySnapshot {
  return error === null ? UNKNOWN : Object.freeze({ ...UNKNOWN, error });
}

/** Name, message and code of anything thrown, frozen. */
export function summarizeError(error: unknown): ErrorSummary {
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | null;
  const code = e?.code;
  return Object.freeze({
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    code: typeof code === 'number' || typeof code === 'string' ? code : null,
  });
}

/**
 * Turns successive driver `TopologyDescription`s into snapshots. A driver
 * `ServerDescription` is replaced on every update of its server, so identity
 * tells which entries a refresh touched; untouched entries, and the whole
 * snapshot when nothing changed, are reused as they are.
 */
export class TopologySnapshotBuilder {
  private entries = new Map<ServerAddress, { source: ServerDescription; snapshot: ServerSnapshot }>();
  private last: TopologySnapshot = UNKNOWN;

  /** `now` stamps the entries this refresh touched (epoch ms). */
  build(description: TopologyDescription | null, error: ErrorSummary | null, now: number): TopologySnapshot {
    if (description === null) {
      this.entries = new Map();
      this.last = sameError(this.last.error, error) && this.last.servers.length === 0 && this.last.type === 'Unknown'
        ? this.last
        : unknownTopology(error);
      return this.last;
    }
    const entries = new Map<ServerAddress, { source: ServerDescription; snapshot: ServerSnapshot }>();
    let serversChanged = description.servers.size !== this.entries.size;
    for (const [address, source] of description.servers) {
      const previous = this.entries.get(address);
      if (previous?.source === source) {
        entries.set(address, previous);
      } else {
        serversChanged = true;
        entries.set(address, { source, snapshot: serverSnapshot(source, now, previous?.snapshot) });
      }
    }
    this.entries = entries;

    const last = this.last;
    const servers = serversChanged
      ? Object.freeze([...entries.values()].map((e) => e.snapshot).sort(byAddress))
      : last.servers;
    const next = {
      type: description.type,
      setName: description.setName,
      maxSetVersion: description.maxSetVersion,
      maxElectionId: description.maxElectionId?.toHexString() ?? null,
      commonWireVersion: description.commonWireVersion,
      compatibilityError: description.compatibilityError ?? null,
      servers,
      error: sameError(last.error, error) ? last.error : error,
    };
    const unchanged =
      servers === last.servers &&
      next.type === last.type &&
      next.setName === last.setName &&
      next.maxSetVersion === last.maxSetVersion &&
      next.maxElectionId === last.maxElectionId &&
      next.commonWireVersion === last.commonWireVersion &&
      next.compatibilityError === last.compatibilityError &&
      next.error === last.error;
    this.last = unchanged ? last : Object.freeze(next);
    return this.last;
  }
}

function serverSnapshot(source: ServerDescription, now: number, previous: ServerSnapshot | undefined): ServerSnapshot {
  const measured = source.roundTripTime >= 0;
  const error = source.error ? summarizeError(source.error) : null;
  return Object.freeze({
    address: source.address,
    type: source.type,
    roundTripTime: measured ? source.roundTripTime : null,
    minRoundTripTime: measured ? source.minRoundTripTime : null,
    lastUpdateTime: now,
    error: previous && sameError(previous.error, error) ? previous.error : error,
    tags: previous && sameTags(previous.tags, source.tags) ? previous.tags : freezeTags(source.tags),
    setName: source.setName,
    setVersion: source.setVersion,
    electionId: source.electionId?.toHexString() ?? null,
    primary: source.primary,
    maxWireVersion: source.maxWireVersion,
  });
}

function byAddress(a: ServerSnapshot, b: ServerSnapshot): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

function sameError(a: ErrorSummary | null, b: ErrorSummary | null): boolean {
  return a === b || (a !== null && b !== null && a.name === b.name && a.message === b.message && a.code === b.code);
}

function sameTags(frozen: Readonly<Record<string, string>>, tags: Record<string, string>): boolean {
  const keys = Object.keys(tags);
  return keys.length === Object.keys(frozen).length && keys.every((k) => frozen[k] === tags[k]);
}

function freezeTags(tags: Record<string, string>): Readonly<Record<string, string>> {
  return Object.keys(tags).length === 0 ? NO_TAGS : Object.freeze({ ...tags });
}
