/**
 * Update documents as mongod applies them: operator updates and pipeline
 * updates through mingo's updater, replacements, and the document an upsert
 * inserts. Stored documents are never touched: every result is a new
 * document built from a copy.
 */
import { ObjectId, Timestamp, type Document } from 'bson';
import { updateOne as mingoUpdateOne, update as mingoUpdate } from 'mingo/updater';
import { CommandError, bsonTypeName } from './errors';
import { guard, mingoOptions } from './query';
import { sameValue } from './store';
import { copyDocument } from './values';

/** What an update statement's `u` (or `updateMods`) is. */
export type UpdateKind = 'operators' | 'replacement' | 'pipeline';

const OPERATORS = new Set([
  '$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$currentDate', '$setOnInsert',
  '$push', '$addToSet', '$pop', '$pull', '$pullAll', '$bit',
]);
const PIPELINE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);

export interface UpdateOptions {
  /** The statement's filter: the positional operator `$` needs it. */
  filter: Document;
  arrayFilters?: Document[];
  let?: Document;
  /** A fresh cluster time for `$currentDate: { $type: 'timestamp' }`. */
  timestamp: () => Timestamp;
}

/** Classifies and validates an update document the way mongod parses it. */
export function updateKind(u: unknown): UpdateKind {
  if (Array.isArray(u)) {
    for (const stage of u as unknown[]) {
      if (!stage || typeof stage !== 'object' || Array.isArray(stage)) {
        throw new CommandError('FailedToParse', 'Each element of the update pipeline must be an object');
      }
      const name = Object.keys(stage)[0];
      if (!PIPELINE_STAGES.has(name)) {
        throw new CommandError('InvalidOptions', `${name} is not allowed to be used within an update`);
      }
    }
    return 'pipeline';
  }
  if (!u || typeof u !== 'object') {
    throw new CommandError('FailedToParse', 'Update argument must be either an object or an array');
  }
  const keys = Object.keys(u);
  if (keys.length === 0 || !keys[0].startsWith('$')) {
    const dollar = keys.find((k) => k.startsWith('$'));
    if (dollar) {
      throw new CommandError('DollarPrefixedFieldName',
        `The dollar ($) prefixed field '${dollar}' in '${dollar}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`);
    }
    return 'replacement';
  }
  for (const key of keys) {
    if (!OPERATORS.has(key)) {
      throw new CommandError('FailedToParse',
        `Unknown modifier: ${key}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    const args = (u as Document)[key];
    if (!args || typeof args !== 'object' || Array.isArray(args)) {
      throw new CommandError('FailedToParse',
        `Modifiers operate on fields but we found type ${bsonTypeName(args)} instead. For example: {$mod: {<field>: ...}} not {${key}: ${JSON.stringify(args)}}`);
    }
  }
  return 'operators';
}

/** The document `before` becomes under `u`; `before` itself is left untouched. */
export function applyUpdate(before: Document, u: Document | Document[], options: UpdateOptions): Document {
  const kind = updateKind(u);
  if (kind === 'replacement') return replace(before, u as Document);
  const doc = copyDocument(before);
  const after = kind === 'pipeline' ? runUpdatePipeline(doc, u as Document[], options) : runOperators(doc, u as Document, options, false);
  return keepId(before, after, kind);
}

/** The document an upsert inserts when nothing matched `filter`. */
export function upsertDocument(filter: Document, u: Document | Document[], options: UpdateOptions): Document {
  const kind = updateKind(u);
  let doc: Document;
  if (kind === 'replacement') {
    const seed = equalityFields(filter);
    doc = { ...(seed._id !== undefined ? { _id: seed._id } : {}), ...copyDocument(u as Document) };
  } else {
    const seed = equalityFields(filter);
    doc = kind === 'pipeline' ? runUpdatePipeline(seed, u as Document[], options) : runOperators(seed, u as Document, options, true);
  }
  return idFirst(doc);
}

/** Puts `_id` first, generating an ObjectId when there is none, as mongod stores documents. */
export function idFirst(doc: Document): Document {
  if (doc._id === undefined) return { _id: new ObjectId(), ...doc };
  if (Object.keys(doc)[0] === '_id') return doc;
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}

function replace(before: Document, replacement: Document): Document {
  if (replacement._id !== undefined && !sameValue(replacement._id, before._id)) {
    throw new CommandError('ImmutableField',
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${JSON.stringify(replacement._id)}`);
  }
  const { _id, ...rest } = copyDocument(replacement);
  return { _id: before._id, ...rest };
}

function keepId(before: Document, after: Document, kind: UpdateKind): Document {
  if (after._id === undefined) return { _id: before._id, ...after };
  if (!sameValue(after._id, before._id)) {
    throw new CommandError('ImmutableField', kind === 'operators'
      ? "Performing an update on the path '_id' would modify the immutable field '_id'"
      : `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${JSON.stringify(after._id)}`);
  }
  return after;
}

function runUpdatePipeline(doc: Document, pipeline: Document[], options: UpdateOptions): Document {
  const docs = [doc];
  guard(() => mingoUpdateOne(docs, {}, pipeline as never, {}, mingoOptions({ let: options.let })));
  return docs[0];
}

/** Applies update operators to `doc` in place (a copy the caller owns) with mingo. */
function runOperators(doc: Document, u: Document, options: UpdateOptions, inserting: boolean): Document {
  const modifier = mingoModifier(u, options, inserting);
  checkArrayFilters(modifier, options.arrayFilters ?? []);
  checkTargets(doc, modifier);
  if (Object.keys(modifier).length === 0) return doc;
  // The filter only serves the positional operator; mingo re-tests it, so pass it only then.
  const positional = Object.values(modifier).some((args) => Object.keys(args as Document).some((p) => /(^|\.)\$(\.|$)/.test(p)));
  guard(() =>
    mingoUpdate(doc, modifier as never, options.arrayFilters, positional ? options.filter : undefined, {
      // mongod checks `_id` after the update (setting it to its own value is fine), so mingo must not.
      queryOptions: { ...mingoOptions({ let: options.let }), idKey: '\u0000no-id' },
    }),
  );
  return doc;
}

/**
 * The update as mingo understands it: `$setOnInsert` applies only when an
 * upsert inserts, and `$currentDate` becomes a `$set` of the server's date or
 * cluster time (mingo has no BSON Timestamp).
 */
function mingoModifier(u: Document, options: UpdateOptions, inserting: boolean): Document {
  const modifier: Document = {};
  const set: Document = { ...(u.$set as Document | undefined) };
  const merge = (path: string, value: unknown) => {
    if (path in set) throw new CommandError('ConflictingUpdateOperators', `Updating the path '${path}' would create a conflict at '${path}'`);
    set[path] = value;
  };
  for (const [op, args] of Object.entries(u)) {
    if (op === '$set') continue;
    if (op === '$setOnInsert') {
      if (inserting) for (const [path, value] of Object.entries(args as Document)) merge(path, value);
    } else if (op === '$currentDate') {
      for (const [path, spec] of Object.entries(args as Document)) merge(path, currentDate(path, spec, options));
    } else {
      modifier[op] = args;
    }
  }
  if (Object.keys(set).length > 0 || u.$set) modifier.$set = set;
  // mongod (5.0+) applies an update's fields in lexicographic order, numeric parts numerically.
  for (const [op, args] of Object.entries(modifier)) {
    modifier[op] = Object.fromEntries(Object.entries(args as Document).sort(([a], [b]) => comparePaths(a, b)));
  }
  return modifier;
}

function comparePaths(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const numeric = /^\d+$/.test(pa[i]) && /^\d+$/.test(pb[i]);
    if (numeric) return Number(pa[i]) - Number(pb[i]);
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

function currentDate(path: string, spec: unknown, options: UpdateOptions): Date | Timestamp {
  if (spec === true) return new Date();
  const type = (spec as Document | null)?.$type;
  if (type === 'date') return new Date();
  if (type === 'timestamp') return options.timestamp();
  if (spec === false) throw new CommandError('BadValue', `${path} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`);
  throw new CommandError('BadValue', "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}");
}

/** mongod refuses array filters that no path uses and paths whose identifier has no filter. */
function checkArrayFilters(modifier: Document, arrayFilters: Document[]): void {
  const used = new Set<string>();
  for (const args of Object.values(modifier)) {
    for (const path of Object.keys(args as Document)) {
      for (const m of path.matchAll(/\$\[([^\]]+)\]/g)) used.add(m[1]);
    }
  }
  const defined = new Set<string>();
  for (const filter of arrayFilters) {
    const id = Object.keys(filter)[0]?.split('.')[0];
    if (!id) throw new CommandError('FailedToParse', 'Cannot use an expression without a top-level field name in arrayFilters');
    if (defined.has(id)) throw new CommandError('FailedToParse', `Found multiple array filters with the same top-level field name ${id}`);
    defined.add(id);
  }
  for (const id of used) {
    if (!defined.has(id)) {
      const path = Object.values(modifier).flatMap((a) => Object.keys(a as Document)).find((p) => p.includes(`$[${id}]`));
      throw new CommandError('BadValue', `No array filter found for identifier '${id}' in path '${path}'`);
    }
  }
  for (const id of defined) {
    if (!used.has(id)) throw new CommandError('FailedToParse', `The array filter for identifier '${id}' was not used in the update ${JSON.stringify(modifier)}`);
  }
}

const NUMERIC_OPS = new Set(['$inc', '$mul']);
const ARRAY_OPS = new Set(['$push', '$addToSet', '$pop', '$pull', '$pullAll']);
const CREATING_OPS = new Set(['$set', '$inc', '$mul', '$min', '$max', '$push', '$addToSet', '$bit']);

/**
 * The type errors mongod raises where mingo's updater silently does nothing:
 * a path through a scalar, arithmetic on a non-number, an array operator on a
 * non-array. Only paths without positional parts are checked.
 */
function checkTargets(doc: Document, modifier: Document): void {
  const id = JSON.stringify(doc._id ?? null);
  for (const [op, args] of Object.entries(modifier)) {
    for (const path of Object.keys(args as Document)) {
      if (path.split('.').includes('')) {
        throw new CommandError('EmptyFieldName', path === ''
          ? "An empty update path is not valid."
          : `The update path '${path}' contains an empty field name, which is not allowed.`);
      }
      if (path.startsWith('$')) {
        throw new CommandError('DollarPrefixedFieldName', `The dollar ($) prefixed field '${path}' in '${path}' is not valid for storage.`);
      }
      if (path.includes('$')) continue;
      const parts = path.split('.');
      const target = resolveTarget(doc, parts, CREATING_OPS.has(op));
      if (target === undefined) continue;
      const last = parts[parts.length - 1];
      if (NUMERIC_OPS.has(op) || op === '$bit') {
        if (typeof target !== 'number') {
          const kind = bsonTypeName(target);
          if (kind === 'long' || kind === 'decimal') {
            throw new CommandError('CommandNotSupported', `the wire test server cannot apply ${op} to a ${kind} value (field '${path}')`);
          }
          throw new CommandError('TypeMismatch', op === '$bit'
            ? `Cannot apply $bit to a value of non-integral type.{ _id: ${id} } has the field ${last} of non-integer type ${kind}`
            : `Cannot apply ${op} to a value of non-numeric type. {_id: ${id}} has the field '${last}' of non-numeric type ${kind}`);
        }
      }
      if (ARRAY_OPS.has(op) && !Array.isArray(target)) {
        const kind = bsonTypeName(target);
        if (op === '$push') throw new CommandError('BadValue', `The field '${path}' must be an array but is of type ${kind} in document {_id: ${id}}`);
        if (op === '$addToSet') throw new CommandError('BadValue', `Cannot apply $addToSet to non-array field. Field named '${last}' has non-array type ${kind}`);
        if (op === '$pop') throw new CommandError('TypeMismatch', `Path '${path}' contains an element of non-array type '${kind}'`);
        throw new CommandError('BadValue', `Cannot apply ${op} to a non-array value`);
      }
    }
  }
}

/** The value at `parts`; a path that cannot be created throws PathNotViable when `creating`. */
function resolveTarget(doc: Document, parts: string[], creating: boolean): unknown {
  let value: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (Array.isArray(value) && !/^\d+$/.test(part)) {
      if (creating) throw notViable(part, parts[i - 1], value);
      return undefined;
    }
    const next = (value as Document)[part];
    if (i === parts.length - 1 || next === undefined) return next;
    if (!isContainer(next)) {
      if (creating) throw notViable(parts[i + 1], part, next);
      return undefined;
    }
    value = next;
  }
  return value;
}

function notViable(field: string, parent: string, value: unknown): CommandError {
  return new CommandError('PathNotViable', `Cannot create field '${field}' in element {${parent}: ${JSON.stringify(value)}}`);
}

function isContainer(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The fields an upsert seeds its new document with: the filter's equality
 * conditions (top level, `$eq`, and inside `$and`), with dotted paths built
 * out as nested documents.
 */
export function equalityFields(filter: Document): Document {
  const doc: Document = {};
  const visit = (f: Document) => {
    for (const [key, value] of Object.entries(f)) {
      if (key === '$and' && Array.isArray(value)) {
        for (const clause of value) visit(clause as Document);
        continue;
      }
      if (key === '$or' && Array.isArray(value) && value.length === 1) {
        visit(value[0] as Document);
        continue;
      }
      if (key.startsWith('$')) continue;
      let eq = value;
      if (isOperatorObject(value)) {
        if (!('$eq' in (value as Document))) continue;
        eq = (value as Document).$eq;
      }
      if (eq instanceof RegExp) continue;
      setSeed(doc, key, copyDocument(eq));
    }
  };
  visit(filter);
  return doc;
}

function isOperatorObject(value: unknown): boolean {
  return isContainer(value) && !Array.isArray(value) && Object.keys(value as Document)[0]?.startsWith('$') === true;
}

function setSeed(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let target = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = target[parts[i]];
    if (next === undefined) target = target[parts[i]] = {};
    else if (isContainer(next) && !Array.isArray(next)) target = next as Document;
    else throw notSingle(path);
  }
  const last = parts[parts.length - 1];
  if (last in target) throw notSingle(path);
  target[last] = value;
}

function notSingle(path: string): CommandError {
  return new CommandError('NotSingleValueField', `cannot infer query fields to set, path '${path}' is matched twice`);
}
