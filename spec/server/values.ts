/**
 * BSON values at the boundaries of the test server's data path: bringing
 * decoded commands to the server's form of numbers (numbers.ts), copying
 * stored documents before something mutates them, handing values to mingo
 * in a form it orders the way mongod does, and the keys documents are found
 * by.
 */
import { Double, EJSON, Long, type Document, type ObjectId } from 'bson';
import { isInt32Number, numKind, numberKey } from './numbers';

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A decoded command (deserialized without promotion, so that every number
 * keeps its BSON type) in the server's form, changed in place: an int32 is a
 * JS number, a double is a JS number unless its value would be written back
 * as an int32 (then it stays a `Double`), and a BSON symbol stays one.
 */
export function fromWire<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = wireValue(value[i]);
    return value;
  }
  if (!isPlainObject(value)) return wireValue(value) as T;
  const doc = value as Document;
  for (const key of Object.keys(doc)) doc[key] = wireValue(doc[key]);
  return value;
}

function wireValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v) || isPlainObject(v)) return fromWire(v);
  switch ((v as { _bsontype?: string })._bsontype) {
    case 'Int32':
      return (v as { value: number }).value;
    case 'Double': {
      const n = (v as Double).value;
      return isInt32Number(n) ? v : n;
    }
    default:
      return v;
  }
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
 * The number a value mingo sees stands for: a JS number as is, the int64 a
 * {@link LongKey} wraps; undefined for anything else. mingo keeps a LongKey
 * apart from numbers, so comparisons across them go through this.
 */
export function numericValue(v: unknown): unknown {
  if (typeof v === 'number') return v;
  return v instanceof LongKey ? v.original : undefined;
}

/** Whether a value (or an element of it) is an int64 beyond a double's precision. */
export function holdsLongKey(v: unknown): boolean {
  return v instanceof LongKey || (Array.isArray(v) && v.some(holdsLongKey));
}

/** The document (or subdocument) each copy made by {@link forMingo} was made from. */
const ORIGINALS = new WeakMap<object, object>();

/** The stored form of a document {@link forMingo} copied, or the document itself. */
export function originalOf<T extends object>(doc: T): T {
  return (ORIGINALS.get(doc) as T | undefined) ?? doc;
}

/**
 * The form of a value that mingo compares as mongod does: numeric wrappers
 * (Int32, Double, Decimal128, and a Long a double holds exactly) become
 * numbers so they compare with other numbers; a BSON regex becomes a
 * RegExp, a symbol a string; Timestamp, Binary and a larger Long get an
 * {@link OrderKey}. Objects and arrays are copied only where something
 * changed, so a document without such values is returned as is (the same
 * object); each copy remembers its original ({@link originalOf}), where the
 * adapter's `$type` reads the stored types.
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
    if (out) ORIGINALS.set(out, value);
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
    case 'BSONSymbol':
      return bson.toString();
    case 'BSONRegExp':
      return regExpOf(value as { pattern: string; options: string });
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
  const doc = value as Document;
  if (typeof doc.$options === 'string' && doc.$regex !== undefined) {
    // `{ $regex, $options }`: mongod's flags (x among them) applied here, where mingo would pass them to RegExp.
    const { $options, ...rest } = out ?? doc;
    const pattern = rest.$regex instanceof RegExp ? rest.$regex.source : String(rest.$regex);
    out = { ...rest, $regex: regExpOf({ pattern, options: $options as string }) };
  }
  if (out) ORIGINALS.set(out, value);
  return out ?? value;
}

/**
 * {@link forMingo} on a fresh deep copy of a stored document, each of whose
 * copied objects remembers its original: a pipeline may change it in place,
 * and the adapter's `$type` reads the stored types through it.
 */
export function mingoCopy(doc: Document): Document {
  const copy = (value: unknown): unknown => {
    const converted = forMingo(value);
    if (converted === null || typeof converted !== 'object' || !(Array.isArray(value) || isPlainObject(value as object))) return converted;
    const out: unknown = Array.isArray(value)
      ? value.map(copy)
      : Object.fromEntries(Object.entries(value as Document).map(([k, v]) => [k, copy(v)]));
    ORIGINALS.set(out as object, value as object);
    return out;
  };
  return copy(doc) as Document;
}

/**
 * A BSON regex as a JS RegExp: `i`, `m` and `s` carry over, `x` (extended)
 * is applied by removing unescaped whitespace and `#` comments from the
 * pattern, and `u` is implied.
 */
function regExpOf(re: { pattern: string; options: string }): RegExp {
  let source = re.pattern;
  if (re.options.includes('x')) {
    source = source.replace(/\\.|\[(?:\\.|[^\]])*\]|#[^\n]*|\s+/g, (m) => (m.startsWith('\\') || m.startsWith('[') ? m : ''));
  }
  const flags = [...new Set(re.options.split(''))].filter((f) => 'ims'.includes(f)).join('');
  try {
    return new RegExp(source, `${flags}u`);
  } catch {
    return new RegExp(source, flags);
  }
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

/**
 * Gives the numbers of `output` (what mingo computed from `input`) back
 * their stored types where they are unchanged: a number at a path where
 * `input` holds a numeric value equal to it takes that value (a `1.0`
 * passed through a pipeline stays a double, an `NumberLong(5)` an int64).
 * mingo computes on JS numbers, so this is how a pipeline keeps the types
 * of the values it only passes along.
 */
export function restoreNumbers(output: unknown, input: unknown): unknown {
  if (typeof output === 'number') {
    const kind = numKind(input);
    return kind && kind !== 'int' && Number(String(input)) === output ? input : output;
  }
  if (output === null || typeof output !== 'object' || input === null || typeof input !== 'object') return output;
  if (Array.isArray(output)) {
    if (!Array.isArray(input)) return output;
    let out: unknown[] | undefined;
    for (let i = 0; i < output.length; i++) {
      const v = restoreNumbers(output[i], input[i]);
      if (v !== output[i]) (out ??= output.slice())[i] = v;
    }
    return out ?? output;
  }
  if (!isPlainObject(output) || !isPlainObject(input)) return output;
  let out: Document | undefined;
  for (const [k, v] of Object.entries(output)) {
    const m = restoreNumbers(v, (input as Document)[k]);
    if (m !== v) (out ??= { ...output })[k] = m;
  }
  return out ?? output;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * The key a document is found by through its `_id` (or a unique index
 * through its key): equal for values mongod's indexes hold equal, so
 * numbers of equal value share one whatever their types (`1`, `1.0`,
 * `NumberLong(1)`).
 */
export function idKey(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return String(value);
    case 'number':
      return `#${numberKey(value)}`;
  }
  if (Array.isArray(value)) return `[${value.map(idKey).join(',')}]`;
  if (value instanceof Date) return `D${value.getTime()}`;
  if ((value as { _bsontype?: string })._bsontype === 'ObjectId') return `O${(value as ObjectId).toHexString()}`;
  if (numKind(value)) return `#${numberKey(value)}`;
  if (isPlainObject(value as object)) {
    return `{${Object.entries(value as Document).map(([k, v]) => `${JSON.stringify(k)}:${idKey(v)}`).join(',')}}`;
  }
  return exactKey(value);
}

/** A key that tells every value and type apart (`1` from `1.0`). */
function exactKey(value: unknown): string {
  return EJSON.stringify({ v: value as Document }, { relaxed: false });
}

/** Whether two BSON values are the same value of the same type (mongod's binary equality). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return exactKey(a) === exactKey(b);
}
