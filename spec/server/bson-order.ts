/**
 * mongod's order of BSON values (`BSONElement::woCompare` without a
 * collation): first the canonical type (MinKey, null, numbers, strings,
 * objects, arrays, binary, ObjectId, bool, date, timestamp, regex, code,
 * MaxKey), then the value within the type; numbers of different types
 * compare by value, exactly. The update operators ($min, $max, $addToSet,
 * $pull, $pullAll, $push's $sort) and `distinct` use it, where mingo's
 * ordering of JS values would tell `1` from `1.0`.
 *
 * Limit: strings compare by UTF-16 code units (mongod: UTF-8 bytes), which
 * differ only for characters beyond the Basic Multilingual Plane.
 */
import type { Binary, Document, ObjectId, Timestamp } from 'bson';
import { compareNumbers, numKind } from './numbers';

/** mongod's `canonicalizeBSONType` of a value. */
function canonicalType(v: unknown): number {
  if (v === undefined) return 0;
  if (v === null) return 5;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 10;
    case 'string':
      return 15;
    case 'boolean':
      return 40;
  }
  if (Array.isArray(v)) return 25;
  if (v instanceof Date) return 45;
  if (v instanceof RegExp) return 50;
  if (numKind(v)) return 10;
  switch ((v as { _bsontype?: string })._bsontype) {
    case 'BSONSymbol':
      return 15;
    case 'Binary':
      return 30;
    case 'ObjectId':
      return 35;
    case 'Timestamp':
      return 47;
    case 'BSONRegExp':
      return 50;
    case 'Code':
      return (v as { scope?: unknown }).scope ? 65 : 60;
    case 'MinKey':
      return -1;
    case 'MaxKey':
      return 127;
    default:
      return 20;
  }
}

const cmp = <T>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

/** Orders two BSON values as mongod does; 0 means equal. */
export function compareValues(a: unknown, b: unknown): number {
  const ta = canonicalType(a);
  const tb = canonicalType(b);
  if (ta !== tb) return cmp(ta, tb);
  switch (ta) {
    case 10:
      return compareNumbers(a, b);
    case 15:
      return cmp(String(a), String(b));
    case 20:
      return compareEntries(Object.entries(a as Document), Object.entries(b as Document));
    case 25:
      return compareEntries((a as unknown[]).map((v, i) => [String(i), v]), (b as unknown[]).map((v, i) => [String(i), v]));
    case 30: {
      const x = a as Binary;
      const y = b as Binary;
      return cmp(x.position, y.position) || cmp(x.sub_type, y.sub_type) ||
        Buffer.compare(Buffer.from(x.buffer.subarray(0, x.position)), Buffer.from(y.buffer.subarray(0, y.position)));
    }
    case 35:
      return cmp((a as ObjectId).toHexString(), (b as ObjectId).toHexString());
    case 40:
      return cmp(Number(a), Number(b));
    case 45:
      return cmp((a as Date).getTime(), (b as Date).getTime());
    case 47:
      return cmp((a as Timestamp).t, (b as Timestamp).t) || cmp((a as Timestamp).i, (b as Timestamp).i);
    case 50: {
      const x = regexParts(a);
      const y = regexParts(b);
      return cmp(x.source, y.source) || cmp(x.flags, y.flags);
    }
    case 60:
    case 65:
      return cmp(String((a as { code: unknown }).code), String((b as { code: unknown }).code));
    default:
      return 0;
  }
}

/** Whether two values are equal as mongod compares them (`1` equals `1.0`; field order counts). */
export function valuesEqual(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

/** Documents and arrays: element by element, each by type, then name, then value. */
function compareEntries(a: Array<[string, unknown]>, b: Array<[string, unknown]>): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [ka, va] = a[i];
    const [kb, vb] = b[i];
    const order = cmp(canonicalType(va), canonicalType(vb)) || cmp(ka, kb) || compareValues(va, vb);
    if (order !== 0) return order;
  }
  return cmp(a.length, b.length);
}

function regexParts(v: unknown): { source: string; flags: string } {
  if (v instanceof RegExp) return { source: v.source, flags: v.flags };
  const r = v as { pattern: string; options: string };
  return { source: r.pattern, flags: r.options };
}
