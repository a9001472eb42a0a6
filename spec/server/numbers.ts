/**
 * mongod's four numeric types as the test server holds them, and the
 * arithmetic and comparisons that keep them apart.
 *
 * Every stored and replied value is in one form (wire.ts brings incoming
 * commands to it): an int32 is a JS number that is an integer in int32
 * range and not -0 (what the bson serializer writes as an int32); a double
 * is any other JS number, or a `Double` when its value is such an integer
 * (so that it goes back out as a double); an int64 is a `Long`; a decimal is
 * a `Decimal128`.
 *
 * Arithmetic follows mongod's update operators: int32 with int32 is int32
 * and becomes int64 on overflow; an int64 overflow is an error; anything
 * with a double is a double; anything with a decimal is a decimal (a double
 * entering decimal arithmetic is first rounded to 15 significant digits, as
 * mongod converts it). Comparisons across types are exact.
 */
import { Decimal128, Double, Long } from 'bson';

export type NumKind = 'int' | 'long' | 'double' | 'decimal';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL_DIGITS = 34;

/** Whether the bson serializer writes this JS number as an int32. */
export function isInt32Number(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX && !Object.is(n, -0);
}

/** The numeric BSON type of a value, or undefined for anything else. */
export function numKind(v: unknown): NumKind | undefined {
  if (typeof v === 'number') return isInt32Number(v) ? 'int' : 'double';
  switch ((v as { _bsontype?: string } | null | undefined)?._bsontype) {
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Long':
      return 'long';
    case 'Decimal128':
      return 'decimal';
    default:
      return undefined;
  }
}

/** A double in the server's form. */
function double(n: number): number | Double {
  return isInt32Number(n) ? new Double(n) : n;
}

/** A numeric value as a JS number (a decimal or a large int64 approximated). */
export function toJsNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  return Number((v as { toString(): string }).toString());
}

function toBigInt(v: unknown): bigint {
  return typeof v === 'number' ? BigInt(v) : BigInt((v as Long).toString());
}

// ---------------------------------------------------------------- decimal

/** A finite decimal: `coeff × 10^exp`; NaN and the infinities stay JS numbers. */
interface Dec {
  coeff: bigint;
  exp: number;
  negative: boolean;
}

const DECIMAL_TEXT = /^([+-])?(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function parseDecimal(text: string): Dec | number {
  if (/^[+-]?(NaN|Inf(inity)?)$/i.test(text)) return text.startsWith('-') ? -Infinity : /nan/i.test(text) ? NaN : Infinity;
  const m = text.match(DECIMAL_TEXT);
  if (!m) throw new Error(`not a decimal: ${text}`);
  const frac = m[3] ?? '';
  const negative = m[1] === '-';
  const magnitude = BigInt(m[2] + frac);
  return { coeff: negative ? -magnitude : magnitude, exp: Number(m[4] ?? 0) - frac.length, negative };
}

/** A value as mongod converts it for decimal arithmetic (a double rounded to 15 significant digits). */
function toDec(v: unknown): Dec | number {
  switch (numKind(v)) {
    case 'int':
    case 'long':
      return { coeff: toBigInt(v), exp: 0, negative: toBigInt(v) < 0n };
    case 'double': {
      const n = toJsNumber(v);
      return Number.isFinite(n) ? parseDecimal(n.toPrecision(15)) : n;
    }
    default:
      return parseDecimal((v as Decimal128).toString());
  }
}

/** Rounds to 34 significant digits (half to even) and builds the Decimal128. */
function fromDec(d: Dec | number): Decimal128 {
  if (typeof d === 'number') return Decimal128.fromString(Number.isNaN(d) ? 'NaN' : d > 0 ? 'Infinity' : '-Infinity');
  let magnitude = d.coeff < 0n ? -d.coeff : d.coeff;
  let exp = d.exp;
  const excess = magnitude.toString().length - DECIMAL_DIGITS;
  if (excess > 0) {
    const unit = 10n ** BigInt(excess);
    const quotient = magnitude / unit;
    const remainder = magnitude % unit;
    const half = unit / 2n;
    magnitude = remainder > half || (remainder === half && quotient % 2n === 1n) ? quotient + 1n : quotient;
    exp += excess;
  }
  const sign = d.coeff < 0n || (d.coeff === 0n && d.negative) ? '-' : '';
  return Decimal128.fromStringWithRounding(`${sign}${magnitude}E${exp}`);
}

function decAdd(a: Dec | number, b: Dec | number): Dec | number {
  if (typeof a === 'number' || typeof b === 'number') return (typeof a === 'number' ? a : 0) + (typeof b === 'number' ? b : 0);
  const exp = Math.min(a.exp, b.exp);
  const coeff = a.coeff * 10n ** BigInt(a.exp - exp) + b.coeff * 10n ** BigInt(b.exp - exp);
  return { coeff, exp, negative: coeff === 0n ? a.negative && b.negative : coeff < 0n };
}

function decMul(a: Dec | number, b: Dec | number): Dec | number {
  if (typeof a === 'number' || typeof b === 'number') {
    const sa = typeof a === 'number' ? a : a.coeff === 0n ? 0 : a.negative ? -1 : 1;
    const sb = typeof b === 'number' ? b : b.coeff === 0n ? 0 : b.negative ? -1 : 1;
    return sa * sb === 0 || Number.isNaN(sa * sb) ? NaN : sa * sb > 0 ? Infinity : -Infinity;
  }
  return { coeff: a.coeff * b.coeff, exp: a.exp + b.exp, negative: a.negative !== b.negative };
}

// ---------------------------------------------------------------- arithmetic

function widest(a: NumKind, b: NumKind): NumKind {
  for (const kind of ['decimal', 'double', 'long'] as const) if (a === kind || b === kind) return kind;
  return 'int';
}

/** The integer result of int/long arithmetic in its type, or undefined when an int64 overflows. */
function integerResult(kind: NumKind, n: bigint): unknown {
  if (kind === 'int' && n >= BigInt(INT32_MIN) && n <= BigInt(INT32_MAX)) return Number(n);
  return n >= INT64_MIN && n <= INT64_MAX ? Long.fromBigInt(n) : undefined;
}

/** `a + b` in mongod's result type; undefined when an int64 result overflows. */
export function addNumbers(a: unknown, b: unknown): unknown {
  const kind = widest(numKind(a)!, numKind(b)!);
  if (kind === 'decimal') return fromDec(decAdd(toDec(a), toDec(b)));
  if (kind === 'double') return double(toJsNumber(a) + toJsNumber(b));
  return integerResult(kind, toBigInt(a) + toBigInt(b));
}

/** `a × b` in mongod's result type; undefined when an int64 result overflows. */
export function multiplyNumbers(a: unknown, b: unknown): unknown {
  const kind = widest(numKind(a)!, numKind(b)!);
  if (kind === 'decimal') return fromDec(decMul(toDec(a), toDec(b)));
  if (kind === 'double') return double(toJsNumber(a) * toJsNumber(b));
  return integerResult(kind, toBigInt(a) * toBigInt(b));
}

/** `a op b` on int32/int64 values ($bit); int64 when either is. */
export function bitwise(op: 'and' | 'or' | 'xor', a: unknown, b: unknown): unknown {
  const x = toBigInt(a);
  const y = toBigInt(b);
  const n = op === 'and' ? x & y : op === 'or' ? x | y : x ^ y;
  const long = numKind(a) === 'long' || numKind(b) === 'long';
  return long ? Long.fromBigInt(BigInt.asIntN(64, n)) : Number(BigInt.asIntN(32, n));
}

// ---------------------------------------------------------------- comparison

/** A finite number as an exact fraction; NaN and the infinities as JS numbers. */
interface Fraction {
  n: bigint;
  d: bigint;
}

function fractionOfDouble(x: number): Fraction | number {
  if (!Number.isFinite(x)) return x;
  if (Number.isInteger(x)) return { n: BigInt(x), d: 1n };
  let k = 0;
  // Doubling a double is exact; a finite double needs at most 1074 doublings to become an integer.
  while (!Number.isInteger(x)) {
    x *= 2;
    k += 1;
  }
  return { n: BigInt(x), d: 2n ** BigInt(k) };
}

function fraction(v: unknown): Fraction | number {
  switch (numKind(v)) {
    case 'int':
    case 'long':
      return { n: toBigInt(v), d: 1n };
    case 'double':
      return fractionOfDouble(toJsNumber(v));
    default: {
      const dec = parseDecimal((v as Decimal128).toString());
      if (typeof dec === 'number') return dec;
      return dec.exp >= 0 ? { n: dec.coeff * 10n ** BigInt(dec.exp), d: 1n } : { n: dec.coeff, d: 10n ** BigInt(-dec.exp) };
    }
  }
}

/** Orders two numeric values exactly across types, as mongod does (NaN first, equal to NaN). */
export function compareNumbers(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return compareJs(a, b);
  const fa = fraction(a);
  const fb = fraction(b);
  if (typeof fa === 'number' || typeof fb === 'number') {
    // Against NaN or an infinity only a finite value's existence matters.
    return compareJs(typeof fa === 'number' ? fa : 0, typeof fb === 'number' ? fb : 0);
  }
  const diff = fa.n * fb.d - fb.n * fa.d;
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}

function compareJs(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** A key equal for numbers of equal value whatever their types (`1`, `1.0`, `NumberLong(1)`). */
export function numberKey(v: unknown): string {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  const f = fraction(v);
  if (typeof f === 'number') return String(f);
  const g = gcd(f.n, f.d);
  const n = f.n / g;
  const d = f.d / g;
  return d === 1n ? n.toString() : `${n}/${d}`;
}
