/**
 * The topology properties, in one table: each entry names a value, how it is
 * read from a snapshot (its projection) and when a new value counts as the
 * previous one (its equality). Everything else comes from this table: the
 * view {@link TopologyState} publishes, the synchronous getters and the
 * read-only subjects on `TopologyState` and `RxMongoClient`, and their types.
 * Adding a topology property is one entry here.
 */
import { InvalidOperationError } from '../errors';
import { unknownTopology, type ServerAddress, type ServerSnapshot, type TopologySnapshot } from './snapshot';

/** One topology property. */
export interface TopologyProperty<T> {
  /** The value in `topology`; objects it returns must be frozen, callers get them as they are. */
  readonly project: (topology: TopologySnapshot) => T;
  /** Whether `next` equals `previous`; an equal value is published as `previous`, the same object. */
  readonly equal: (previous: T, next: T) => boolean;
  /** Raises, in the synchronous getter only, where the value has no meaning; the subject holds the value as is. */
  readonly check?: (topology: TopologySnapshot) => void;
}

/** A property projected by `project`; equal values by `Object.is` unless `equal` says otherwise. */
function property<T>(
  project: (topology: TopologySnapshot) => T,
  options: { equal?: (previous: T, next: T) => boolean; check?: (topology: TopologySnapshot) => void } = {},
): TopologyProperty<T> {
  return Object.freeze({ project, equal: options.equal ?? Object.is, check: options.check });
}

/**
 * Motor's topology properties (`address`, `primary`, …, `topology_description`
 * in camelCase). Each becomes a synchronous getter `name` and a read-only
 * BehaviorSubject `name$` that starts unknown, emits once per refreshed
 * description (every heartbeat and description change), connects the client
 * when subscribed and completes on close. Reading a getter never connects.
 */
export const TOPOLOGY_PROPERTIES = {
  /**
   * The current standalone, primary or mongos as `'host:port'`, or `null`
   * (Motor `address`). The getter throws `InvalidOperationError` when the
   * client is load-balancing (several mongoses, or a load balancer); use
   * `nodes` then. `address$` holds `null` there.
   */
  address: property(singleAddress, { check: assertSingleAddress }),
  /** The replica set's primary, or `null` (Motor `primary`). */
  primary: property(primaryOf),
  /** The replica set's secondaries, sorted (Motor `secondaries`). */
  secondaries: property((t) => members(t, 'RSSecondary'), { equal: sameList }),
  /** The replica set's arbiters, sorted (Motor `arbiters`). */
  arbiters: property((t) => members(t, 'RSArbiter'), { equal: sameList }),
  /** Every server the client currently reaches, sorted (Motor `nodes`). */
  nodes: property((t) => addresses(reachable(t)), { equal: sameList }),
  /** Whether a server accepting writes is known: standalone, primary, mongos or load balancer (Motor `is_primary`). */
  isPrimary: property((t) => reachable(t).some((s) => WRITABLE.has(s.type))),
  /** Whether the client talks to mongos, directly or through a load balancer (Motor `is_mongos`). */
  isMongos: property((t) => t.type === 'LoadBalanced' || reachable(t).some((s) => s.type === 'Mongos')),
  /** The deployment as a deep-frozen, serializable snapshot (Motor `topology_description`). */
  topologyDescription: property((t) => t),
  /** Whether the driver can talk to every server's wire version; `topologyDescription.compatibilityError` says why not (driver `TopologyDescription.compatible`). */
  compatible: property((t) => t.compatibilityError === null),
};

type Table = typeof TOPOLOGY_PROPERTIES;
/** The name of a topology property. */
export type TopologyKey = keyof Table;

/** Every topology property's value after one refresh: the one state of the topology. */
export type TopologyView = { readonly [K in keyof Table]: Table[K] extends TopologyProperty<infer T> ? T : never };

/** The names of the topology properties, in table order. */
export const TOPOLOGY_KEYS = Object.freeze(Object.keys(TOPOLOGY_PROPERTIES)) as readonly TopologyKey[];

const WRITABLE: ReadonlySet<string> = new Set(['RSPrimary', 'Standalone', 'Mongos', 'LoadBalancer']);

/**
 * The view of `topology`: every projection, with values equal to
 * `previous`'s kept as the same objects, so `distinctUntilChanged()` over a
 * subject yields changes only.
 */
export function deriveView(topology: TopologySnapshot, previous?: TopologyView): TopologyView {
  const view: Record<string, unknown> = {};
  for (const key of TOPOLOGY_KEYS) {
    const { project, equal } = TOPOLOGY_PROPERTIES[key] as TopologyProperty<unknown>;
    const value = project(topology);
    view[key] = previous !== undefined && equal(previous[key], value) ? previous[key] : value;
  }
  return Object.freeze(view) as TopologyView;
}

/** The view before anything is known: empty lists, `null` addresses, `false` flags. */
export const UNKNOWN_VIEW: TopologyView = deriveView(unknownTopology());

/** `view[key]` as the synchronous getter returns it: raises where the property says it has no value. */
export function readProperty<K extends TopologyKey>(view: TopologyView, key: K): TopologyView[K] {
  (TOPOLOGY_PROPERTIES[key] as TopologyProperty<unknown>).check?.(view.topologyDescription);
  return view[key];
}

function reachable(topology: TopologySnapshot): readonly ServerSnapshot[] {
  return topology.servers.filter((s) => s.type !== 'Unknown');
}

function addresses(servers: readonly ServerSnapshot[]): readonly ServerAddress[] {
  return Object.freeze(servers.map((s) => s.address));
}

/** The members of a replica set of one server type (none outside a replica set). */
function members(topology: TopologySnapshot, type: 'RSSecondary' | 'RSArbiter'): readonly ServerAddress[] {
  const replicaSet = topology.type === 'ReplicaSetWithPrimary' || topology.type === 'ReplicaSetNoPrimary';
  return addresses(replicaSet ? topology.servers.filter((s) => s.type === type) : []);
}

function primaryOf(topology: TopologySnapshot): ServerAddress | null {
  if (topology.type !== 'ReplicaSetWithPrimary') return null;
  return topology.servers.find((s) => s.type === 'RSPrimary')?.address ?? null;
}

function singleAddress(topology: TopologySnapshot): ServerAddress | null {
  const { type, servers } = topology;
  if (type === 'ReplicaSetWithPrimary') return primaryOf(topology);
  if ((type === 'Single' || type === 'Sharded') && servers.length === 1 && servers[0].type !== 'Unknown') {
    return servers[0].address;
  }
  return null;
}

/** pymongo raises for a sharded topology of more than one server, whatever their state. */
function assertSingleAddress(topology: TopologySnapshot): void {
  if (topology.type === 'LoadBalanced' || (topology.type === 'Sharded' && topology.servers.length > 1)) {
    throw new InvalidOperationError(
      `no single address: the client is load-balancing (${topology.type}); use nodes instead`,
    );
  }
}

function sameList(previous: readonly ServerAddress[], next: readonly ServerAddress[]): boolean {
  return previous.length === next.length && previous.every((a, i) => a === next[i]);
}
