/**
 * Collection validators as mongod applies them to writes: a query
 * (`{ qty: { $gte: 0 } }`), a `$jsonSchema` (json-schema.ts), or both, and
 * the explanation mongod gives in a DocumentValidationFailure's
 * `errInfo.details`.
 *
 * Simplified: each top-level clause of a query validator that fails is
 * explained by its operator (`operatorName`, `specifiedAs`, `reason`,
 * `consideredValue`), without going into the clauses of a `$or`/`$nor` or
 * into `$elemMatch`; several failing clauses come under `$and`'s
 * `clausesNotSatisfied`, as in mongod.
 */
import type { Document } from 'bson';
import { bsonTypeName } from './errors';
import { compileSchema } from './json-schema';
import { compileFilter, type Matcher } from './query';
import { getPath } from './store';

/** Checks a document; returns mongod's explanation of the failure, or undefined when it passes. */
export type ValidatorCheck = (doc: Document) => Document | undefined;

const compiled = new WeakMap<Document, ValidatorCheck>();

const REASONS: Record<string, string> = {
  $eq: 'comparison failed', $ne: 'comparison succeeded', $gt: 'comparison failed', $gte: 'comparison failed',
  $lt: 'comparison failed', $lte: 'comparison failed', $in: 'no matching value found in array',
  $nin: 'matching value found in array', $type: 'type did not match', $regex: 'regular expression did not match',
  $size: 'array length was not equal to given size', $all: 'array did not contain all specified values',
  $elemMatch: 'array did not satisfy the child predicate', $mod: '$mod did not evaluate to expected remainder',
};

/** The validator's check, compiled once per validator document; throws mongod's parse errors. */
export function compileValidator(validator: Document): ValidatorCheck {
  let check = compiled.get(validator);
  if (check) return check;
  const clauses = Object.entries(validator).map(([key, value]) => clauseCheck(key, value));
  check = (doc) => {
    const failed = clauses.flatMap((c, index) => {
      const details = c(doc);
      return details ? [{ index, details }] : [];
    });
    if (failed.length === 0) return undefined;
    return clauses.length === 1 ? failed[0].details : { operatorName: '$and', clausesNotSatisfied: failed };
  };
  compiled.set(validator, check);
  return check;
}

function clauseCheck(key: string, value: unknown): ValidatorCheck {
  if (key === '$jsonSchema') return compileSchema(value);
  const clause = { [key]: value };
  const matches: Matcher = compileFilter(clause);
  return (doc) => (matches(doc) ? undefined : explain(key, value, doc));
}

function explain(key: string, value: unknown, doc: Document): Document {
  if (key === '$expr') return { operatorName: '$expr', specifiedAs: { $expr: value }, reason: 'expression did not match', expressionResult: false };
  if (key.startsWith('$')) return { operatorName: key, specifiedAs: { [key]: value }, reason: 'expression did not match' };
  const operators = value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value)[0]?.startsWith('$')
    ? Object.keys(value as Document)
    : ['$eq'];
  const operatorName = operators.length === 1 ? operators[0] : '$and';
  const considered = getPath(doc, key);
  if (considered === undefined && operatorName !== '$exists' && operatorName !== '$ne' && operatorName !== '$nin') {
    return { operatorName, specifiedAs: { [key]: value }, reason: 'field was missing' };
  }
  if (operatorName === '$exists') {
    return { operatorName, specifiedAs: { [key]: value }, reason: considered === undefined ? 'path does not exist' : 'path exists' };
  }
  const details: Document = { operatorName, specifiedAs: { [key]: value }, reason: REASONS[operatorName] ?? 'expression did not match', consideredValue: considered };
  if (operatorName === '$type') details.consideredType = bsonTypeName(considered);
  return details;
}
