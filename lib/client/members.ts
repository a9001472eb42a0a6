/**
 * Typed mapping from the driver's classes to their Rx counterparts — the
 * rxmongo take on Motor's attribute specs. A declarative table names each
 * driver member and how it is exposed; {@link installMembers} builds the
 * methods at runtime from that table and {@link RxMembers} derives their
 * types from the same table, so the two cannot drift apart. The table type
 * {@link MemberTable} checks every entry against the driver's own signature.
 */
import type { AbstractCursor, Collection, Document } from 'mongodb';
import { map, type Observable } from 'rxjs';
import type { RxCollection } from './collection';
import type { ClientContext } from '../driver/context';
import { fromCall } from '../driver/from-call';
import { fromCursor } from '../driver/from-cursor';
import { validateCollectionName } from '../driver/names';
import { unwrapSessions, withSignal, type WithRxSession } from '../driver/sessions';

/** `Promise<R>` → one-value `Observable<R>`. */
export interface CallSpec {
  readonly kind: 'call';
  /** Index of the options argument that takes the driver's `signal` (the driver declares it `Abortable`). */
  readonly signalAt?: number;
  /** Indexes of arguments that are collection names, validated at the call. */
  readonly names?: readonly number[];
}
/** Cursor → `Observable` of its documents (see `fromCursor`). */
export interface CursorSpec {
  readonly kind: 'cursor';
}
/** `Promise<Collection | Collection[]>` → `Observable<RxCollection | RxCollection[]>`. */
interface CollectionSpec {
  readonly kind: 'collection';
  readonly names?: readonly number[];
}
/** A driver getter, forwarded read-only. */
export interface PropertySpec {
  readonly kind: 'property';
}
export type MemberSpec = CallSpec | CursorSpec | CollectionSpec | PropertySpec;

export const CALL = { kind: 'call' } as const satisfies CallSpec;
export const CURSOR = { kind: 'cursor' } as const satisfies CursorSpec;
export const PROPERTY = { kind: 'property' } as const satisfies PropertySpec;
/** A call whose options argument (at `index`) takes the driver's `signal`. */
export function abortableCall<const I extends number>(index: I) {
  return { kind: 'call', signalAt: index } as const satisfies CallSpec;
}
/** A call resolving to driver collections; `names` are collection-name argument indexes. */
export function collectionResult<const N extends readonly number[]>(...names: N) {
  return { kind: 'collection', names } as const satisfies CollectionSpec;
}
/** A plain call whose arguments at `names` are collection names. */
export function namedCall<const N extends readonly number[]>(...names: N) {
  return { kind: 'call', names } as const satisfies CallSpec;
}

/**
 * The entries a table for driver class `D` may hold: each key must be a
 * member of `D`, and its spec must fit what the member returns.
 */
export type MemberTable<D> = { readonly [K in keyof D]?: SpecFor<D[K]> };
type SpecFor<M> = M extends (...args: never[]) => infer R
  ? R extends Promise<infer V>
    ? ResolvesToCollections<V> extends true
      ? CollectionSpec
      : CallSpec
    : R extends AbstractCursor<unknown>
      ? CursorSpec
      : never
  : PropertySpec;
type ResolvesToCollections<V> = (V extends readonly (infer E)[] ? E : V) extends infer E
  ? 0 extends 1 & E
    ? false
    : [E] extends [Collection<Document>]
      ? true
      : false
  : never;

/**
 * The members `table` gives a wrapper of driver class `D`: forwarded getters
 * stay read-only values, calls become functions returning Observables. Every
 * overload of the driver method is kept (type parameters fall back to their
 * constraints — wrappers re-declare the few where callers name a type), and
 * an options `session` may be an `RxClientSession`.
 */
export type RxMembers<D, T> = {
  readonly [K in keyof T as T[K] extends PropertySpec ? K : never]: K extends keyof D ? D[K] : never;
} & {
  [K in keyof T as T[K] extends PropertySpec ? never : K]: K extends keyof D
    ? T[K] extends { kind: infer Kind }
      ? Build<Dedupe<Signatures<D[K]>>, Kind>
      : never
    : never;
};

/** What each kind of member emits for a driver result `R`. */
type Emits<Kind, R> = Kind extends 'cursor'
  ? R extends AbstractCursor<infer Doc> ? Doc : never
  : Kind extends 'collection'
    ? RxCollectionOf<Awaited<R>>
    : Awaited<R>;
type RxCollectionOf<V> = V extends Collection<infer S extends Document>[]
  ? RxCollection<S>[]
  : V extends Collection<infer S extends Document>
    ? RxCollection<S>
    : never;

/**
 * Up to eight overloads of `F` as `[args, result]` pairs, in declaration
 * order; TypeScript fills unused slots by repeating the first overload (and
 * would keep only the last eight of more; the driver has at most six).
 */
type Signatures<F> = F extends {
  (...a: infer A1): infer R1;
  (...a: infer A2): infer R2;
  (...a: infer A3): infer R3;
  (...a: infer A4): infer R4;
  (...a: infer A5): infer R5;
  (...a: infer A6): infer R6;
  (...a: infer A7): infer R7;
  (...a: infer A8): infer R8;
}
  ? [[A1, R1], [A2, R2], [A3, R3], [A4, R4], [A5, R5], [A6, R6], [A7, R7], [A8, R8]]
  : never;
type Same<X, Y> = (<G>() => G extends X ? 1 : 2) extends <G>() => G extends Y ? 1 : 2 ? true : false;
type Dedupe<S extends unknown[], Previous = never> = S extends [infer Head, ...infer Rest]
  ? Same<Head, Previous> extends true
    ? Dedupe<Rest, Previous>
    : [Head, ...Dedupe<Rest, Head>]
  : [];
/** The overloads as an intersection of functions (TypeScript resolves it in order). */
type Build<S, Kind> = S extends [[infer A extends unknown[], infer R], ...infer Rest]
  ? ((...args: RxArgs<A>) => Observable<Emits<Kind, R>>) & Build<Rest, Kind>
  : unknown;

/** Driver arguments, with `session` options also accepting an `RxClientSession`. */
type RxArgs<A extends unknown[]> = { [I in keyof A]: WithRxSession<A[I]> };

/** What an installed member needs from the object it is installed on. */
export interface Host<D> {
  readonly driver: D;
  /** @internal */
  readonly context: ClientContext;
}

/**
 * Defines `table`'s members on `prototype`, forwarding to `this.driver`.
 * `adopt` turns a driver collection returned by a `collection` member into
 * the wrapper the host hands out.
 */
export function installMembers<D>(
  prototype: object,
  table: Readonly<Record<string, MemberSpec>>,
  adopt: (host: Host<D>, collection: Collection) => RxCollection,
): void {
  for (const [name, spec] of Object.entries(table)) {
    if (spec.kind === 'property') {
      Object.defineProperty(prototype, name, {
        configurable: true,
        get(this: Host<D>) {
          return driverMember(this, name);
        },
      });
      continue;
    }
    const member = function (this: Host<D>, ...args: unknown[]): Observable<unknown> {
      if (spec.kind !== 'cursor') spec.names?.forEach((at) => validateCollectionName(args[at]));
      const driverArgs = unwrapSessions(args);
      const call = (signal?: AbortSignal) => {
        const method = driverMember(this, name) as (...a: unknown[]) => never;
        return method.apply(this.driver, signal ? withSignal(driverArgs, (spec as CallSpec).signalAt!, signal) : driverArgs);
      };
      switch (spec.kind) {
        case 'cursor':
          return fromCursor(this.context, call);
        case 'call':
          return fromCall(this.context, call, { abortable: spec.signalAt !== undefined });
        case 'collection':
          return fromCall<Collection | Collection[]>(this.context, call).pipe(
            map((result) =>
              Array.isArray(result) ? result.map((c) => adopt(this, c)) : adopt(this, result),
            ),
          );
      }
    };
    Object.defineProperty(member, 'name', { value: name });
    Object.defineProperty(prototype, name, { configurable: true, writable: true, value: member });
  }
}

function driverMember<D>(host: Host<D>, name: string): unknown {
  return (host.driver as Record<string, unknown>)[name];
}
