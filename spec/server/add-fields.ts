/**
 * `$addFields` (and its alias `$set`) as mongod computes a dotted path:
 * through an array it sets the field in every element, and an element or
 * value on the way that is not a document is replaced by one. mingo's stage
 * leaves arrays on the path untouched.
 */
import type { Document } from 'bson';
import { evalExpr } from 'mingo/core';
import type { Iterator } from 'mingo/lazy';
import type { Options } from 'mingo/types';

function isPlainObject(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Sets (or, for `$$REMOVE`, removes) `parts` in a copy-on-write walk of `target`. */
function setComputed(target: Document, parts: string[], value: unknown): void {
  const [head, ...rest] = parts;
  if (rest.length === 0) {
    if (value === undefined) delete target[head];
    else target[head] = value;
    return;
  }
  const within = (current: unknown): Document => {
    const doc = isPlainObject(current) ? { ...current } : {};
    setComputed(doc, rest, value);
    return doc;
  };
  const current = target[head];
  target[head] = Array.isArray(current) ? current.map(within) : within(current);
}

/** The `$addFields` stage as a mingo pipeline operator. */
export function $addFields(collection: Iterator, expr: Document, options: Options): Iterator {
  const fields = Object.keys(expr);
  if (fields.length === 0) return collection;
  return collection.map((value) => {
    const doc = value as Document;
    const out = { ...doc };
    for (const field of fields) setComputed(out, field.split('.'), evalExpr(doc, expr[field], options));
    return out;
  });
}
