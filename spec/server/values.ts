/**
 * BSON values at the two boundaries of the test server's data path: copying
 * stored documents before something mutates them, and handing values to
 * mingo in a form it orders the way mongod does.
 */
import { EJSON, Long, type Document } from 'bson';

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A deep copy of a document's objects and arrays that keeps BSON value
 * instances (ObjectId, Long, Binary, …) as they are: they are immutable, and
 * mingo's own clone would turn some of them into plain objects.
 */
export function copyDocument<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyDocument) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (!isPlainObject(value)) return value;
  const out: Document = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyDocument(v);
  return out as T;
}

/**
 * A BSON value mingo cannot order by itself, wrapped with a string key whose
 * order is mongod's order within the type. mingo compares two instances of
 * one class by `toString()` and keeps different classes apart, which is the
 * type bracketing mongod applies.
 */
abstract class OrderKey {
  constructor(
    readonly original: unknown,
    private readonly key: string,
  ) {}

  toString(): string {
    return this.key;
  }
}

class TimestampKey extends OrderKey {}
class BinaryKey extends OrderKey {}
class LongKey extends OrderKey {}

const LONG_OFFSET = 2n ** 63n;

/**
 * The form of a value that mingo compares as mongod does: numeric wrappers
 * (Int32, Double, Decimal128, and a Long a double holds exactly) become
 * numbers so they compare with other numbers; Timestamp, Binary and a larger
 * Long get an {@link OrderKey}. Objects and arrays are copied only where
 * something changed, so a document without such values is returned as is
 * (the same object).
 *
 * Limits: a Decimal128 is compared (and computed on, in pipelines) as a
 * double; a Long beyond 2^53 compares only with other such Longs.
 */
export function forMingo(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = forMingo(value[i]);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  const bson = value as { _bsontype?: string; toString(): string };
  switch (bson._bsontype) {
    case 'Long': {
      const n = BigInt(bson.toString());
      if (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(n);
      // Beyond a double's precision: ordered among longs by an offset, zero-padded key.
      return new LongKey(value, (n + LONG_OFFSET).toString().padStart(20, '0'));
    }
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return Number(bson.toString());
    case 'Timestamp': {
      const ts = value as { t: number; i: number };
      return new TimestampKey(value, `${pad(ts.t, 10)}${pad(ts.i, 10)}`);
    }
    case 'Binary': {
      // mongod orders binary data by length, then subtype, then bytes.
      const bin = value as { sub_type: number; buffer: Uint8Array; position: number };
      const bytes = Buffer.from(bin.buffer.subarray(0, bin.position)).toString('hex');
      return new BinaryKey(value, `${pad(bin.position, 10)}${pad(bin.sub_type, 3)}${bytes}`);
    }
    case undefined:
      break;
    default:
      return value;
  }
  if (!isPlainObject(value)) return value;
  let out: Document | undefined;
  for (const [k, v] of Object.entries(value)) {
    const m = forMingo(v);
    if (m !== v) (out ??= { ...value })[k] = m;
  }
  return out ?? value;
}

/** Undoes {@link forMingo} on what mingo computed (numbers stay numbers). */
export function fromMingo(value: unknown): unknown {
  // 64-bit results of the adapter's exact long arithmetic (mingo-adapter.ts).
  if (typeof value === 'bigint') return Long.fromBigInt(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof OrderKey) return value.original;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = fromMingo(value[i]);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (!isPlainObject(value)) return value;
  let out: Document | undefined;
  for (const [k, v] of Object.entries(value)) {
    const m = fromMingo(v);
    if (m !== v) (out ??= { ...value })[k] = m;
  }
  return out ?? value;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** The canonical form of an `_id` (or index key) used as a map key. */
export function idKey(value: unknown): string {
  return EJSON.stringify({ v: value as Document }, { relaxed: false });
}

/** Whether two BSON values are the same value of the same type. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return idKey(a) === idKey(b);
}
