/**
 * Collation in matching, the part of it mingo leaves out (mingo applies a
 * collation to `$sort` only, and passes the locale to `Intl.Collator` as
 * given, so ICU spellings such as `en_US` fail). Strings compare through
 * `Intl.Collator` (Node's ICU) with mongod's options mapped: `strength`
 * (1 base, 2 accent, 3+ variant), `caseLevel`, `caseFirst`,
 * `numericOrdering`, `alternate: 'shifted'`. The query operators `$eq`,
 * `$ne`, `$in`, `$nin`, `$gt`, `$gte`, `$lt`, `$lte` are replaced in the
 * mingo adapter by ones that compare strings this way when a query has a
 * collation; values of other types compare as before.
 *
 * Limits: `backwards`, `maxVariable` and `normalization` are accepted and
 * ignored; `$group`, `distinct` and unique indexes stay binary.
 *
 * The same operators also compare an int64 beyond a double's precision
 * with other numbers by value, which mingo cannot (values.ts wraps such an
 * int64 so that it orders exactly among int64s).
 */
import type { Document } from 'bson';
import * as mingoQuery from 'mingo/operators/query';
import type { Options } from 'mingo/types';
import { compare, isEqual, resolve } from 'mingo/util';
import { CommandError } from './errors';
import { compareNumbers } from './numbers';
import { holdsLongKey, numericValue } from './values';

const SENSITIVITY: Record<number, Intl.CollatorOptions['sensitivity']> = { 1: 'base', 2: 'accent', 3: 'variant', 4: 'variant', 5: 'variant' };
const collators = new Map<string, Intl.Collator | undefined>();

/**
 * A collation document as mingo's `$sort` can use it (the locale in BCP 47
 * spelling), or undefined for none or `simple`; an unknown locale is
 * mongod's BadValue.
 */
export function normalizeCollation(collation: Document | undefined): Document | undefined {
  if (!collation || collation.locale === undefined || collation.locale === 'simple') return undefined;
  const locale = collation.locale;
  if (typeof locale !== 'string') throw new CommandError('TypeMismatch', "BSON field 'collation.locale' is the wrong type, expected type 'string'");
  const tag = locale.replace(/_/g, '-').replace(/@.*$/, '');
  let supported: string[] = [];
  try {
    supported = Intl.Collator.supportedLocalesOf(tag);
  } catch {
    // an invalid tag: refused below
  }
  if (supported.length === 0 && tag !== 'root') {
    throw new CommandError('BadValue', `Field 'locale' is invalid in: { locale: "${locale}" }`);
  }
  return { ...collation, locale: tag === 'root' ? 'und' : tag };
}

/** The collator for a (normalized) collation, or undefined for binary comparison. */
function collatorFor(collation: unknown): Intl.Collator | undefined {
  const spec = collation as Document | undefined;
  if (!spec || typeof spec.locale !== 'string') return undefined;
  const key = JSON.stringify(spec);
  if (!collators.has(key)) {
    let sensitivity = SENSITIVITY[Number(spec.strength ?? 3)] ?? 'variant';
    if (spec.caseLevel === true && sensitivity === 'base') sensitivity = 'case';
    collators.set(key, new Intl.Collator(spec.locale, {
      sensitivity,
      caseFirst: spec.caseFirst === 'upper' || spec.caseFirst === 'lower' ? spec.caseFirst : 'false',
      numeric: spec.numericOrdering === true,
      ignorePunctuation: spec.alternate === 'shifted',
    }));
  }
  return collators.get(key);
}

type Predicate = (a: unknown, b: unknown, collator: Intl.Collator | undefined) => boolean;
type QueryOperator = (selector: string, value: unknown, options: Options) => (doc: unknown) => boolean;

/** Both values are numbers as mongod compares them (an int64 beyond 2^53 included): their numeric values. */
function numbers(a: unknown, b: unknown): [unknown, unknown] | undefined {
  const x = numericValue(a);
  const y = numericValue(b);
  return x !== undefined && y !== undefined ? [x, y] : undefined;
}

/** Compares two values: numbers exactly across types, strings by the collator, anything else as mingo orders it. */
function order(a: unknown, b: unknown, collator: Intl.Collator | undefined): number {
  const n = numbers(a, b);
  if (n) return compareNumbers(n[0], n[1]);
  return collator && typeof a === 'string' && typeof b === 'string' ? collator.compare(a, b) : compare(a as never, b as never);
}

function same(a: unknown, b: unknown, collator: Intl.Collator | undefined): boolean {
  const n = numbers(a, b);
  if (n) return compareNumbers(n[0], n[1]) === 0;
  if (collator && typeof a === 'string' && typeof b === 'string') return collator.compare(a, b) === 0;
  return isEqual(a as never, b as never);
}

/** A field's value, or any element of it when it is an array, satisfies `test`. */
function anyValue(value: unknown, test: (v: unknown) => boolean): boolean {
  return test(value) || (Array.isArray(value) && value.some(test));
}

const sameType = (a: unknown, b: unknown) => typeof a === typeof b || numbers(a, b) !== undefined;

const PREDICATES: Record<string, Predicate> = {
  $eq: (a, b, c) => anyValue(a, (v) => same(v, b, c)) || (a == null && b === null),
  $ne: (a, b, c) => !PREDICATES.$eq(a, b, c),
  $in: (a, b, c) => (b as unknown[]).some((x) => PREDICATES.$eq(a, x, c)),
  $nin: (a, b, c) => !PREDICATES.$in(a, b, c),
  $gt: (a, b, c) => anyValue(a, (v) => sameType(v, b) && order(v, b, c) > 0),
  $gte: (a, b, c) => anyValue(a, (v) => sameType(v, b) && order(v, b, c) >= 0),
  $lt: (a, b, c) => anyValue(a, (v) => sameType(v, b) && order(v, b, c) < 0),
  $lte: (a, b, c) => anyValue(a, (v) => sameType(v, b) && order(v, b, c) <= 0),
};

/**
 * The comparison query operators, collation-aware, and comparing an int64
 * beyond 2^53 with other numbers by value (mingo keeps it apart); mingo's
 * own when neither applies.
 */
export const COLLATED_QUERY_OPERATORS: Record<string, QueryOperator> = Object.fromEntries(
  Object.entries(PREDICATES).map(([name, predicate]) => {
    const original = (mingoQuery as unknown as Record<string, QueryOperator>)[name];
    const operator: QueryOperator = (selector, value, options) => {
      const collator = collatorFor(options.collation);
      const ours = (doc: unknown) => predicate(resolve(doc as Document, selector, { unwrapArray: true }), value, collator);
      if (collator || holdsLongKey(value)) return ours;
      const theirs = original(selector, value, options);
      return (doc) => (holdsLongKey(resolve(doc as Document, selector, { unwrapArray: true })) ? ours(doc) : theirs(doc));
    };
    return [name, operator];
  }),
);
