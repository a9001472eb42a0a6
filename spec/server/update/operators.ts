/**
 * What each update operator does to one field, with mongod's type rules:
 * arithmetic keeps the numeric types apart (numbers.ts), and the operators
 * that compare values ($min, $max, $addToSet, $pull, $pullAll, $push's
 * $sort) compare them in BSON order, where `1` equals `1.0`.
 */
import type { Document } from 'bson';
import { compareValues, valuesEqual } from '../bson-order';
import { CommandError, bsonTypeName } from '../errors';
import { addNumbers, bitwise, multiplyNumbers, numKind } from '../numbers';
import { compileFilter, type EvalOptions } from '../query';
import { copyDocument } from '../values';

/** Operators that create the field (and the documents on its path) when it is missing. */
export const CREATING = new Set(['$set', '$inc', '$mul', '$min', '$max', '$push', '$addToSet', '$bit']);

/** One path an update writes, with its operator and argument. */
export interface Target {
  op: string;
  path: string;
  parts: string[];
  arg: unknown;
}

type Container = Document | unknown[];

/** Sets a field or array element; an index past the end pads the array with nulls, as mongod does. */
export function setAt(container: Container, key: string | number, value: unknown): void {
  if (Array.isArray(container)) {
    const index = Number(key);
    while (container.length < index) container.push(null);
    container[index] = value;
  } else {
    container[key as string] = value;
  }
}

/** The field an operator is applied to, for its error messages and conditions. */
export interface FieldContext {
  /** The concrete path (`a.1.b`). */
  path: string;
  /** The document's `_id`. */
  id: unknown;
  evalOptions: EvalOptions;
}

const PUSH_MODIFIERS = new Set(['$each', '$slice', '$sort', '$position']);

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

function isOperatorDocument(value: unknown): value is Document {
  return isDocument(value) && Object.keys(value)[0]?.startsWith('$') === true;
}

function isIntegral(value: unknown): boolean {
  const kind = numKind(value);
  return kind !== undefined && Number.isInteger(Number(String(value)));
}

/** Checks an operator's argument as mongod parses it, before any document is touched. */
export function checkArgument(t: Target): void {
  const { op, path, arg } = t;
  const shown = () => `{${path}: ${JSON.stringify(arg)}}`;
  switch (op) {
    case '$inc':
    case '$mul':
      if (!numKind(arg)) throw new CommandError('TypeMismatch', `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: ${shown()}`);
      break;
    case '$pop':
      if (!numKind(arg) || (Number(String(arg)) !== 1 && Number(String(arg)) !== -1)) {
        throw new CommandError('FailedToParse', `$pop expects 1 or -1, found: ${JSON.stringify(arg)}`);
      }
      break;
    case '$pullAll':
      if (!Array.isArray(arg)) throw new CommandError('BadValue', `$pullAll requires an array argument but was given a ${bsonTypeName(arg)}`);
      break;
    case '$rename':
      checkRename(path, arg);
      break;
    case '$bit':
      checkBit(arg);
      break;
    case '$push':
    case '$addToSet':
      if (isDocument(arg) && '$each' in arg) checkEach(op, arg);
      break;
  }
}

function checkRename(path: string, to: unknown): void {
  if (typeof to !== 'string') throw new CommandError('BadValue', `The 'to' field for $rename must be a string: ${path}: ${JSON.stringify(to)}`);
  if (path.includes('$') || to.includes('$')) {
    throw new CommandError('BadValue', `The ${path.includes('$') ? 'source' : 'destination'} field for $rename may not be dynamic: ${path.includes('$') ? path : to}`);
  }
  if (to === '' || to.split('.').includes('')) throw new CommandError('BadValue', 'The update path contains an empty field name. It is not allowed');
  if (path === to) throw new CommandError('BadValue', `The source and target field for $rename must differ: ${path}: ${JSON.stringify(to)}`);
  if (to.startsWith(`${path}.`) || path.startsWith(`${to}.`)) {
    throw new CommandError('BadValue', `The source and target field for $rename must not be on the same path: ${path}: ${JSON.stringify(to)}`);
  }
}

function checkBit(arg: unknown): void {
  if (!isDocument(arg)) {
    throw new CommandError('BadValue', `The $bit modifier is not compatible with a ${bsonTypeName(arg)}. You must pass in an embedded document: {$bit: {field: {and/or/xor: #}}`);
  }
  for (const [k, v] of Object.entries(arg)) {
    if (!['and', 'or', 'xor'].includes(k)) {
      throw new CommandError('BadValue', `The $bit modifier only supports 'and', 'or', and 'xor', not '${k}' which is an unknown operator: {${k}: ${JSON.stringify(v)}}`);
    }
    const kind = numKind(v);
    if (kind !== 'int' && kind !== 'long') {
      throw new CommandError('BadValue', `The $bit modifier field must be an Integer(32/64 bit); a '${bsonTypeName(v)}' is not supported here: {${k}: ${JSON.stringify(v)}}`);
    }
  }
}

function checkEach(op: string, arg: Document): void {
  for (const key of Object.keys(arg)) {
    if (op === '$addToSet' ? key !== '$each' : !PUSH_MODIFIERS.has(key)) {
      throw new CommandError('BadValue', op === '$addToSet'
        ? `Found unexpected fields after $each in $addToSet: ${JSON.stringify(arg)}`
        : `Unrecognized clause in $push: ${key}`);
    }
  }
  if (!Array.isArray(arg.$each)) {
    throw new CommandError(op === '$addToSet' ? 'TypeMismatch' : 'BadValue', `The argument to $each in ${op} must be an array but it was of type: ${bsonTypeName(arg.$each)}`);
  }
  if (arg.$slice !== undefined && !isIntegral(arg.$slice)) {
    throw new CommandError('BadValue', `The value for $slice must be an integer value but was given type: ${bsonTypeName(arg.$slice)}`);
  }
  if (arg.$position !== undefined && !isIntegral(arg.$position)) {
    throw new CommandError('BadValue', `The value for $position must be an integer value, not of type: ${bsonTypeName(arg.$position)}`);
  }
  if (arg.$sort !== undefined) sortOrder(arg.$sort);
}

/** `$push`'s `$sort`: 1/-1 for whole elements, `{ field: 1/-1, … }` for fields of documents. */
function sortOrder(spec: unknown): (a: unknown, b: unknown) => number {
  const invalid = () => new CommandError('BadValue', 'The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields');
  const direction = (v: unknown) => {
    const n = numKind(v) ? Number(String(v)) : NaN;
    if (n !== 1 && n !== -1) throw invalid();
    return n;
  };
  if (!isDocument(spec)) {
    const dir = direction(spec);
    return (a, b) => dir * compareValues(a, b);
  }
  const fields = Object.entries(spec).map(([path, v]) => ({ parts: path.split('.'), dir: direction(v) }));
  if (fields.length === 0) throw invalid();
  const at = (doc: unknown, parts: string[]) => parts.reduce<unknown>((v, p) => (isDocument(v) ? v[p] : undefined), doc) ?? null;
  return (a, b) => {
    for (const { parts, dir } of fields) {
      const order = compareValues(at(a, parts), at(b, parts));
      if (order !== 0) return dir * order;
    }
    return 0;
  };
}

// ---------------------------------------------------------------- applying

/** Applies one operator to the field `key` of `container`. */
export function applyOperator(t: Target, container: Container, key: string | number, field: FieldContext): void {
  const current = (container as Document)[key as string];
  const missing = current === undefined;
  const set = (value: unknown) => setAt(container, key, value);
  const last = field.path.split('.').pop()!;
  const id = `{_id: ${JSON.stringify(field.id ?? null)}}`;
  switch (t.op) {
    case '$set':
      return set(copyDocument(t.arg));
    case '$unset':
      if (missing) return;
      // mongod leaves a null in an array element it unsets, so the other elements keep their positions.
      if (Array.isArray(container)) container[Number(key)] = null;
      else delete container[key as string];
      return;
    case '$inc':
    case '$mul': {
      if (!missing && !numKind(current)) {
        throw new CommandError('TypeMismatch',
          `Cannot apply ${t.op} to a value of non-numeric type. ${id} has the field '${last}' of non-numeric type ${bsonTypeName(current)}`);
      }
      // A missing field: $inc sets the increment, $mul a zero of the multiplier's type.
      const result = t.op === '$inc' ? (missing ? t.arg : addNumbers(current, t.arg)) : multiplyNumbers(missing ? 0 : current, t.arg);
      if (result === undefined) {
        throw new CommandError('BadValue', `Failed to apply ${t.op} operations to current value ((NumberLong)${String(current)}) for document ${id}`);
      }
      return set(result);
    }
    case '$min':
    case '$max': {
      const order = missing ? 0 : compareValues(t.arg, current);
      if (missing || (t.op === '$min' ? order < 0 : order > 0)) set(copyDocument(t.arg));
      return;
    }
    case '$bit': {
      const kind = numKind(current);
      if (!missing && kind !== 'int' && kind !== 'long') {
        throw new CommandError('BadValue', `Cannot apply $bit to a value of non-integral type.${id} has the field ${last} of non-integer type ${bsonTypeName(current)}`);
      }
      let value = missing ? 0 : current;
      for (const [op, operand] of Object.entries(t.arg as Document)) value = bitwise(op as 'and' | 'or' | 'xor', value, operand);
      return set(value);
    }
    case '$push':
      return push(t.arg, current, set, field);
    case '$addToSet': {
      if (!missing && !Array.isArray(current)) {
        throw new CommandError('BadValue', `Cannot apply $addToSet to non-array field. Field named '${last}' has non-array type ${bsonTypeName(current)}`);
      }
      const values = isDocument(t.arg) && '$each' in t.arg ? (t.arg.$each as unknown[]) : [t.arg];
      const out = missing ? [] : [...(current as unknown[])];
      for (const v of values) if (!out.some((e) => valuesEqual(e, v))) out.push(copyDocument(v));
      return set(out);
    }
    case '$pop': {
      if (missing) return;
      if (!Array.isArray(current)) {
        throw new CommandError('TypeMismatch', `Path '${field.path}' contains an element of non-array type '${bsonTypeName(current)}'`);
      }
      if (current.length === 0) return;
      return set(Number(String(t.arg)) === 1 ? current.slice(0, -1) : current.slice(1));
    }
    case '$pull':
    case '$pullAll': {
      if (missing) return;
      if (!Array.isArray(current)) throw new CommandError('BadValue', `Cannot apply ${t.op} to a non-array value`);
      const remove = t.op === '$pull' ? pullCondition(t.arg, field.evalOptions) : (e: unknown) => (t.arg as unknown[]).some((v) => valuesEqual(e, v));
      const kept = current.filter((e) => !remove(e));
      if (kept.length !== current.length) set(kept);
      return;
    }
  }
}

function push(arg: unknown, current: unknown, set: (v: unknown) => void, field: FieldContext): void {
  if (current !== undefined && !Array.isArray(current)) {
    throw new CommandError('BadValue', `The field '${field.path}' must be an array but is of type ${bsonTypeName(current)} in document {_id: ${JSON.stringify(field.id ?? null)}}`);
  }
  const modifiers = isDocument(arg) && '$each' in arg ? arg : { $each: [arg] };
  const values = (modifiers.$each as unknown[]).map((v) => copyDocument(v));
  let out = current === undefined ? [] : [...(current as unknown[])];
  if (modifiers.$position === undefined) {
    out.push(...values);
  } else {
    const p = Number(String(modifiers.$position));
    const at = p >= 0 ? Math.min(p, out.length) : Math.max(out.length + p, 0);
    out.splice(at, 0, ...values);
  }
  if (modifiers.$sort !== undefined) out = out.map((v, i) => ({ v, i })).sort((a, b) => sortOrder(modifiers.$sort)(a.v, b.v) || a.i - b.i).map((x) => x.v);
  if (modifiers.$slice !== undefined) {
    const n = Number(String(modifiers.$slice));
    out = n >= 0 ? out.slice(0, n) : out.slice(Math.max(out.length + n, 0));
  }
  set(out);
}

/**
 * `$pull`'s condition on an element: a document without operators is a
 * query each document element must match; an operator expression applies to
 * the element itself; any other value removes the elements equal to it.
 */
function pullCondition(arg: unknown, evalOptions: EvalOptions): (element: unknown) => boolean {
  if (isOperatorDocument(arg)) {
    const matches = compileFilter({ element: arg }, evalOptions);
    return (e) => matches({ element: e });
  }
  if (isDocument(arg)) {
    const matches = compileFilter(arg, evalOptions);
    return (e) => isDocument(e) && matches(e);
  }
  return (e) => valuesEqual(e, arg);
}
