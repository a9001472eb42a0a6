/**
 * `$type`, the query operator and the expression, on the stored BSON types.
 * mingo sees numbers as JS numbers (values.ts), so its `$type` cannot tell
 * `1` from `1.0` or `NumberLong(1)`; these read a field from the stored
 * document (`originalOf`) and name its type as mongod does.
 *
 * Limits: inside `$elemMatch` on an array of scalars, mingo hands over an
 * element it copied, so the stored type of a scalar element is not seen; the
 * expression reads stored types only for a plain field path (`'$a.b'`) of
 * the document a stage is looking at, and otherwise names a computed number
 * int when it is integral and in int32 range, else double.
 */
import type { Document } from 'bson';
import { evalExpr } from 'mingo/core';
import type { Options } from 'mingo/types';
import { resolve } from 'mingo/util';
import { CommandError, bsonTypeName } from './errors';
import { fromMingo, originalOf } from './values';

/** mongod's type aliases and their numeric codes. */
const TYPE_CODES: Record<string, number> = {
  double: 1, string: 2, object: 3, array: 4, binData: 5, undefined: 6, objectId: 7, bool: 8, date: 9, null: 10,
  regex: 11, dbPointer: 12, javascript: 13, symbol: 14, javascriptWithScope: 15, int: 16, timestamp: 17, long: 18,
  decimal: 19, minKey: -1, maxKey: 127,
};
const NUMBER_CODES = [1, 16, 18, 19];

/** The type codes a `$type` argument names. */
function wantedCodes(spec: unknown): Set<number> {
  const codes = new Set<number>();
  for (const item of Array.isArray(spec) ? spec : [spec]) {
    if (typeof item === 'string') {
      if (item === 'number') NUMBER_CODES.forEach((c) => codes.add(c));
      else if (item in TYPE_CODES) codes.add(TYPE_CODES[item]);
      else throw new CommandError('BadValue', `Unknown type name alias: ${item}`);
    } else if (typeof item === 'number' && Object.values(TYPE_CODES).includes(item)) {
      codes.add(item);
    } else {
      throw new CommandError('BadValue', `Invalid numerical type code: ${String(item)}`);
    }
  }
  return codes;
}

function typeCode(value: unknown): number {
  return TYPE_CODES[bsonTypeName(value)] ?? TYPE_CODES.object;
}

/** The values a dotted path reaches, going into arrays of documents as mongod's matcher does. */
function valuesAt(value: unknown, parts: string[], out: unknown[] = []): unknown[] {
  if (parts.length === 0) {
    if (value !== undefined) out.push(value);
    return out;
  }
  if (Array.isArray(value)) {
    const [head, ...rest] = parts;
    if (/^\d+$/.test(head)) valuesAt(value[Number(head)], rest, out);
    for (const element of value) if (element && typeof element === 'object' && !Array.isArray(element)) valuesAt(element, parts, out);
    return out;
  }
  if (value === null || typeof value !== 'object') return out;
  return valuesAt((value as Document)[parts[0]], parts.slice(1), out);
}

/** `$type` as a mingo query operator: `(selector, value, options) => predicate`. */
export function $type(selector: string, spec: unknown, _options?: unknown): (doc: unknown) => boolean {
  const codes = wantedCodes(spec);
  const parts = selector.split('.');
  return (doc) => {
    const root = doc !== null && typeof doc === 'object' ? originalOf(doc) : doc;
    return valuesAt(root, parts).some((v) =>
      codes.has(typeCode(v)) || (Array.isArray(v) && v.some((e) => codes.has(typeCode(e)))));
  };
}

/** `$type` as a mingo expression operator: `(obj, expr, options) => type name`. */
export function $typeExpression(obj: unknown, expr: unknown, options: Options): string {
  const operand = Array.isArray(expr) && expr.length === 1 ? expr[0] : expr;
  const original = obj !== null && typeof obj === 'object' ? originalOf(obj) : obj;
  if (typeof operand === 'string' && /^\$[^$]/.test(operand) && original !== obj) {
    return bsonTypeName(resolve(original as Document, operand.slice(1)));
  }
  return bsonTypeName(fromMingo(evalExpr(obj as Document, operand, options)));
}
