/**
 * The topology members a class gets from the table: a synchronous getter
 * `name` and a read-only subject `name$` per entry of
 * {@link TOPOLOGY_PROPERTIES}, installed at runtime by
 * {@link installTopologyMembers} and typed by {@link TopologyMembers}, both
 * from the same table.
 */
import type { ReadonlyBehaviorSubject } from './readonly-behavior-subject';
import { TOPOLOGY_KEYS, type TOPOLOGY_PROPERTIES, type TopologyKey, type TopologyView } from './properties';

/** What the installed members read: the current values and one subject per property. */
export interface TopologySource {
  /** The property as its getter returns it (raising where the table says so). */
  read<K extends TopologyKey>(key: K): TopologyView[K];
  /** The property as a read-only BehaviorSubject, the same object on every call. */
  subject<K extends TopologyKey>(key: K): ReadonlyBehaviorSubject<TopologyView[K]>;
}

/**
 * Motor's topology properties as synchronous getters (`primary`, …) and as
 * read-only BehaviorSubjects (`primary$`, …). The subjects start from the
 * unknown state (empty lists, `null` addresses, `false` flags), emit once
 * per refreshed description (every heartbeat and description change; an
 * unchanged value again as the same frozen object, so
 * `distinctUntilChanged()` gives changes only), connect the client when
 * subscribed and complete on close. Reading a getter or `value` never
 * connects.
 */
export type TopologyMembers = {
  readonly [K in keyof typeof TOPOLOGY_PROPERTIES]: TopologyView[K];
} & {
  readonly [K in keyof typeof TOPOLOGY_PROPERTIES as `${K}$`]: ReadonlyBehaviorSubject<TopologyView[K]>;
};

/** Defines every property's getter and subject getter on `prototype`, reading from `source(this)`. */
export function installTopologyMembers<H>(prototype: object, source: (host: H) => TopologySource): void {
  for (const key of TOPOLOGY_KEYS) {
    Object.defineProperty(prototype, key, {
      configurable: true,
      get(this: H) {
        return source(this).read(key);
      },
    });
    Object.defineProperty(prototype, `${key}$`, {
      configurable: true,
      get(this: H) {
        return source(this).subject(key);
      },
    });
  }
}
