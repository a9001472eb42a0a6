/**
 * The one place the test server changes what mingo computes, where mingo
 * and mongod disagree. Every query, pipeline and update runs with
 * {@link MONGOD_CONTEXT}: all of mingo's operators, with these replaced.
 *
 * Each is a gap worth reporting upstream:
 * - `$toHashedIndexKey`: mingo hashes with its own string hash; mongod's is
 *   the hashed-index key (MD5 of the BSON element, an int64), so partitions
 *   computed with it on mongod differ (see hashed-index-key.ts).
 * - `$abs`, `$mod`, `$toLong`: mingo computes on JS numbers only. An int64
 *   beyond 2^53 (such as a hashed-index key) loses its low bits as a double,
 *   so here they also take exact 64-bit integers (BigInt), as mongod's long
 *   arithmetic does. A BigInt leaving mingo becomes a BSON Long (values.ts).
 * - Collation: mingo applies it to `$sort` only; the comparison query
 *   operators here compare strings by the query's collation (collation.ts).
 * - `$addFields`/`$set` with a dotted path through an array: mongod sets
 *   the field in every element; mingo leaves the array (add-fields.ts).
 * - `$jsonSchema`: mingo leaves it to a validator the caller supplies;
 *   here it is evaluated on BSON types (json-schema.ts).
 * - `$type` (query and expression): mingo names the type of a JS number by its value
 *   (`1.0` is an int), while mongod keeps int32, int64, double and decimal
 *   apart; here it reads the stored value (type-operator.ts).
 */
import { Context } from 'mingo/core';
import * as accumulator from 'mingo/operators/accumulator';
import * as expression from 'mingo/operators/expression';
import * as pipeline from 'mingo/operators/pipeline';
import * as projection from 'mingo/operators/projection';
import * as query from 'mingo/operators/query';
import * as window from 'mingo/operators/window';
import { evalExpr } from 'mingo/core';
import type { Options } from 'mingo/types';
import { $addFields } from './add-fields';
import { COLLATED_QUERY_OPERATORS } from './collation';
import { CommandError } from './errors';
import { hashedIndexKey } from './hashed-index-key';
import { compileSchema } from './json-schema';
import { $type, $typeExpression } from './type-operator';
import { fromMingo, originalOf } from './values';

type Expression = (obj: unknown, expr: unknown, options: Options) => unknown;

const INT64_MIN = -(2n ** 63n);

/** A 64-bit result as mingo's other operators can use it: a number when it is exact as one. */
function int64Result(n: bigint): bigint | number {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

const $toHashedIndexKey: Expression = (obj, expr, options) => hashedIndexKey(fromMingo(evalExpr(obj, expr, options)));

const $abs: Expression = (obj, expr, options) => {
  const n = evalExpr(obj, expr, options);
  if (typeof n !== 'bigint') return (expression.$abs as Expression)(obj, expr, options);
  if (n === INT64_MIN) throw new CommandError('Location28680', "can't take $abs of long long min");
  return int64Result(n < 0n ? -n : n);
};

const $mod: Expression = (obj, expr, options) => {
  const args = evalExpr(obj, expr, options);
  if (!Array.isArray(args) || args.length !== 2 || !args.some((a) => typeof a === 'bigint')) {
    return (expression.$mod as Expression)(obj, expr, options);
  }
  const [a, b] = args.map((v) => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v)) as unknown[];
  if (typeof a !== 'bigint' || typeof b !== 'bigint') {
    throw new CommandError('Location16611', `$mod only supports numeric types, not ${typeof args[0]} and ${typeof args[1]}`);
  }
  if (b === 0n) throw new CommandError('Location16610', "can't $mod by zero");
  // Truncated division, as C++'s % (the remainder has the dividend's sign).
  return int64Result(a % b);
};

/** `$jsonSchema` in a query or validator, on the stored BSON types (json-schema.ts). */
const $jsonSchema = (_selector: string, schema: unknown, _options?: unknown) => {
  const check = compileSchema(schema);
  return (doc: unknown) => check(doc !== null && typeof doc === 'object' ? originalOf(doc) : doc) === undefined;
};

const $toLong: Expression = (obj, expr, options) => {
  const n = evalExpr(obj, expr, options);
  return typeof n === 'bigint' ? n : (expression.$toLong as Expression)(obj, expr, options);
};

/** mingo's operators with mongod's behaviour where they differ; see the file comment. */
export const MONGOD_CONTEXT = Context.init({
  accumulator,
  expression: { ...expression, $toHashedIndexKey, $abs, $mod, $toLong, $type: $typeExpression },
  pipeline: { ...pipeline, $addFields, $set: $addFields },
  projection,
  query: { ...query, ...COLLATED_QUERY_OPERATORS, $type, $jsonSchema },
  window,
} as Parameters<typeof Context.init>[0]);
