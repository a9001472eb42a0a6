/**
 * Typed mapping from the driver's classes to their Rx counterparts — the
 * rxmongo take on Motor's attribute specs. A declarative table names each
 * driver member and how it is exposed; {@link installMembers} builds the
 * methods at runtime from that table and {@link RxMembers} derives their
 * types from the same table, so the two cannot drift apart. The table type
 * {@link MemberTable} checks every entry against the driver's own signature,
 * down to the option names each options argument accepts. Each entry also
 * says which kind each argument is (see `arguments.ts`), so the checks are
 * declared once per kind of argument, not once per method.
 */
import type { AbstractCursor, BSONSerializeOptions, Collection, Document } from 'mongodb';
import { map, type Observable } from 'rxjs';
import type { RxCollection } from './collection';
import { isOversizeRefusal, type Arg, type KeysOfUnion, type OptionsArg, type PlainArg } from './arguments';
import type { ClientContext } from '../driver/context';
import { fromCall } from '../driver/from-call';
import { fromCursor } from '../driver/from-cursor';
import { unwrapSessions, withSignal, type WithRxSession } from '../driver/sessions';

/**
 * What a member checks of its arguments, by position (see `arguments.ts`);
 * arguments past the list are passed on unchecked.
 */
export type Args = readonly Arg[];

/** `Promise<R>` → one-value `Observable<R>`. */
interface CallSpec<A = Args> {
  readonly kind: 'call';
  readonly args: A;
  /** The driver declares the options argument `Abortable`: unsubscribing before the result cancels the call. */
  readonly abortable?: true;
}
/** Cursor → `Observable` of its documents (see `fromCursor`). */
interface CursorSpec<A = Args> {
  readonly kind: 'cursor';
  readonly args: A;
}
/** `Promise<Collection | Collection[]>` → `Observable<RxCollection | RxCollection[]>`. */
interface CollectionSpec<A = Args> {
  readonly kind: 'collection';
  readonly args: A;
}
/** A driver getter, forwarded read-only. */
export interface PropertySpec {
  readonly kind: 'property';
}
export type MemberSpec = CallSpec | CursorSpec | CollectionSpec | PropertySpec;

export const PROPERTY = { kind: 'property' } as const satisfies PropertySpec;
/** A call; `args` say how its arguments are checked. */
export function call<const A extends Args>(...args: A) {
  return { kind: 'call', args } as const satisfies CallSpec;
}
/** A call the driver can cancel: its `options` argument gets the subscriber's signal. */
export function abortableCall<const A extends Args>(...args: A) {
  return { kind: 'call', args, abortable: true } as const satisfies CallSpec;
}
/** A cursor-returning method. */
export function cursor<const A extends Args>(...args: A) {
  return { kind: 'cursor', args } as const satisfies CursorSpec;
}
/** A call resolving to driver collections. */
export function collectionResult<const A extends Args>(...args: A) {
  return { kind: 'collection', args } as const satisfies CollectionSpec;
}
/** A call or cursor whose arguments are passed on unchecked. */
export const CALL = call();
export const CURSOR = cursor();

/**
 * The entries a table for driver class `D` may hold: each key must be a
 * member of `D`, and its spec must fit what the member returns.
 */
export type MemberTable<D> = { readonly [K in keyof D]?: SpecFor<D[K]> };
type SpecFor<M> = M extends (...args: never[]) => infer R
  ? R extends Promise<infer V>
    ? ResolvesToCollections<V> extends true
      ? CollectionSpec<ArgsFor<M>>
      : CallSpec<ArgsFor<M>>
    : R extends AbstractCursor<unknown>
      ? CursorSpec<ArgsFor<M>>
      : never
  : PropertySpec;
/**
 * The argument checks driver method `M` may declare: any plain check, or an
 * options list naming exactly the keys that argument takes in some overload
 * (so no legitimate option is ever refused, and no typo accepted).
 */
type ArgsFor<M> = readonly [ArgAt<M, '0'>?, ArgAt<M, '1'>?, ArgAt<M, '2'>?, ArgAt<M, '3'>?];
type ArgAt<M, I extends string> = PlainArg | OptionsArg<KeysOfUnion<Extract<NonNullable<ParamAt<OverloadArgs<M>, I>>, object>> & string>;
type OverloadArgs<M> = Signatures<M> extends infer S extends [unknown[], unknown][] ? S[number][0] : never;
type ParamAt<A, I extends string> = A extends unknown ? (I extends keyof A ? A[I] : undefined) : never;
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
 * Each member checks its arguments at the call (shape errors are thrown
 * there) and document sizes at subscribe (against the server's limit).
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
    const checks = spec.args.map((arg, at) => ({ arg, at, label: `${name}(${arg.name})` }));
    const shaped = checks.filter(({ arg }) => arg.check !== undefined);
    const sized = checks.filter(({ arg }) => arg.size !== undefined && arg.measuredByDriver !== true);
    const namedOnRefusal = checks.filter(({ arg }) => arg.size !== undefined && arg.measuredByDriver === true);
    const optionsAt = spec.args.findIndex((arg) => 'options' in arg);
    const signalAt = spec.kind === 'call' && spec.abortable ? optionsAt : -1;
    if (spec.kind === 'call' && spec.abortable && optionsAt < 0) throw new Error(`${name}: an abortable call needs an options argument`);
    const callOptions = { abortable: signalAt >= 0 };
    const member = function (this: Host<D>, ...args: unknown[]): Observable<unknown> {
      for (const { arg, at, label } of shaped) arg.check!(args[at], label);
      const driverArgs = unwrapSessions(args);
      const call = (signal?: AbortSignal) => {
        if (sized.length > 0) checkSizes(this, args, optionsAt, sized);
        // Looked up here, with the name fixed per member, rather than in a helper shared by every name (a slower lookup).
        const method = (this.driver as Record<string, (...a: unknown[]) => never>)[name];
        const result: unknown = method.apply(this.driver, signal ? withSignal(driverArgs, signalAt, signal) : (driverArgs as unknown[]));
        if (namedOnRefusal.length === 0 || !(result instanceof Promise)) return result as never;
        return result.catch((error: unknown) => {
          // Names the document the driver refused (a DocumentTooLargeError); else its own error stands.
          if (isOversizeRefusal(error)) checkSizes(this, args, optionsAt, namedOnRefusal);
          throw error;
        }) as never;
      };
      switch (spec.kind) {
        case 'cursor':
          return fromCursor(this.context, call);
        case 'call':
          return fromCall(this.context, call, callOptions);
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

/** Throws `DocumentTooLargeError` for the first argument in `checks` holding a document over the server's limit. */
function checkSizes<D>(host: Host<D>, args: unknown[], optionsAt: number, checks: ReadonlyArray<{ arg: Arg; at: number; label: string }>): void {
  const limit = host.context.maxBsonObjectSize;
  const bson = sizeOptions(host, args[optionsAt] as BSONSerializeOptions | undefined);
  for (const { arg, at, label } of checks) arg.size!(args[at], label, limit, bson);
}

/** The serialization options a document's size depends on: the call's, else the driver object's. */
function sizeOptions<D>(host: Host<D>, given: BSONSerializeOptions | undefined): BSONSerializeOptions {
  const inherited = (host.driver as { bsonOptions?: BSONSerializeOptions }).bsonOptions;
  return {
    serializeFunctions: given?.serializeFunctions ?? inherited?.serializeFunctions,
    ignoreUndefined: given?.ignoreUndefined ?? inherited?.ignoreUndefined,
  };
}
