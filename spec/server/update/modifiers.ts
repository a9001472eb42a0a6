/**
 * Operator updates (`$set`, `$inc`, `$push`, …) as mongod parses and
 * applies them: every argument checked before any document is touched,
 * conflicting paths refused, the paths applied in mongod's order
 * (lexicographic, numeric parts numerically), and the positional parts —
 * `$` (the array element the query matched), `$[]` (every element) and
 * `$[<id>]` (the elements an array filter accepts) — expanded against the
 * document. What each operator does to one field is in operators.ts.
 */
import type { Document, Timestamp } from 'bson';
import { CommandError, bsonTypeName } from '../errors';
import { compileFilter, type EvalOptions, type Matcher } from '../query';
import { CREATING, applyOperator, checkArgument, setAt, type FieldContext, type Target } from './operators';

export interface ModifierOptions {
  /** The statement's filter: the positional operator `$` refers to the element it matched. */
  filter: Document;
  arrayFilters: Document[];
  /** `let` and collation, for `$pull` conditions, array filters and the positional match. */
  evalOptions: EvalOptions;
  /** A fresh cluster time for `$currentDate: { $type: 'timestamp' }`. */
  timestamp: () => Timestamp;
  /** An upsert is inserting: `$setOnInsert` applies. */
  inserting: boolean;
}

const OPERATORS = new Set([
  '$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$currentDate', '$setOnInsert',
  '$push', '$addToSet', '$pop', '$pull', '$pullAll', '$bit',
]);
const POSITIONAL = /^\$(\[[^\]]*\])?$/;

/** Whether a path part is `$`, `$[]` or `$[<id>]`. */
function isPositional(part: string): boolean {
  return POSITIONAL.test(part);
}

/** Checks an update document as mongod parses it; returns its targets in the order they apply. */
export function parseModifiers(u: Document, options: ModifierOptions): Target[] {
  const targets: Target[] = [];
  for (const [op, args] of Object.entries(u)) {
    if (!OPERATORS.has(op)) {
      throw new CommandError('FailedToParse', `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    if (!args || typeof args !== 'object' || Array.isArray(args)) {
      throw new CommandError('FailedToParse',
        `Modifiers operate on fields but we found type ${bsonTypeName(args)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${JSON.stringify(args)}}`);
    }
    for (const [path, arg] of Object.entries(args as Document)) {
      checkPath(path);
      if (op === '$setOnInsert' && !options.inserting) continue;
      const target = { op, path, parts: path.split('.'), arg };
      checkArgument(target);
      if (op === '$currentDate') targets.push({ ...target, op: '$set', arg: currentDate(path, arg, options) });
      else if (op === '$setOnInsert') targets.push({ ...target, op: '$set' });
      else targets.push(target);
    }
  }
  checkConflicts(targets);
  checkArrayFilters(targets, options.arrayFilters);
  return targets.sort((a, b) => comparePaths(a.parts, b.parts));
}

function checkPath(path: string): void {
  const parts = path.split('.');
  if (parts.includes('')) {
    throw new CommandError('EmptyFieldName', path === ''
      ? 'An empty update path is not valid.'
      : `The update path '${path}' contains an empty field name, which is not allowed.`);
  }
  const dollar = parts.find((p, i) => p.startsWith('$') && (i === 0 || !isPositional(p)));
  if (dollar) {
    throw new CommandError('DollarPrefixedFieldName', `The dollar ($) prefixed field '${dollar}' in '${path}' is not valid for storage.`);
  }
  if (parts.filter((p) => p === '$').length > 1) {
    throw new CommandError('BadValue', `Too many positional (i.e. '$') elements found in path '${path}'`);
  }
}

/** Two targets where one path is the other or lies inside it (a `$rename` counts both its paths). */
function checkConflicts(targets: Target[]): void {
  const paths: string[][] = [];
  for (const t of targets) {
    paths.push(t.parts);
    if (t.op === '$rename') paths.push(String(t.arg).split('.'));
  }
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length; j++) {
      const [a, b] = paths[i].length <= paths[j].length ? [paths[i], paths[j]] : [paths[j], paths[i]];
      if (a.every((p, k) => p === b[k])) {
        throw new CommandError('ConflictingUpdateOperators', `Updating the path '${b.join('.')}' would create a conflict at '${a.join('.')}'`);
      }
    }
  }
}

/** mongod refuses array filters no path uses and identifiers with no filter. */
function checkArrayFilters(targets: Target[], arrayFilters: Document[]): void {
  const defined = new Set<string>();
  for (const filter of arrayFilters) {
    const id = Object.keys(filter)[0]?.split('.')[0];
    if (!id) throw new CommandError('FailedToParse', 'Cannot use an expression without a top-level field name in arrayFilters');
    if (!/^[a-z][a-zA-Z0-9]*$/.test(id)) {
      throw new CommandError('BadValue', `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`);
    }
    if (defined.has(id)) throw new CommandError('FailedToParse', `Found multiple array filters with the same top-level field name ${id}`);
    defined.add(id);
  }
  const used = new Set<string>();
  for (const t of targets) {
    for (const part of t.parts) {
      const id = part.match(/^\$\[(.+)\]$/)?.[1];
      if (id === undefined) continue;
      if (!defined.has(id)) throw new CommandError('BadValue', `No array filter found for identifier '${id}' in path '${t.path}'`);
      used.add(id);
    }
  }
  for (const id of defined) {
    if (!used.has(id)) throw new CommandError('FailedToParse', `The array filter for identifier '${id}' was not used in the update`);
  }
}

/** mongod (5.0+) applies an update's fields in lexicographic order, numeric parts numerically. */
function comparePaths(pa: string[], pb: string[]): number {
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    if (/^\d+$/.test(pa[i]) && /^\d+$/.test(pb[i])) return Number(pa[i]) - Number(pb[i]);
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

function currentDate(path: string, spec: unknown, options: ModifierOptions): Date | Timestamp {
  if (spec === true) return new Date();
  const type = (spec as Document | null)?.$type;
  if (type === 'date') return new Date();
  if (type === 'timestamp') return options.timestamp();
  if (spec === false) throw new CommandError('BadValue', `${path} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`);
  throw new CommandError('BadValue', "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}");
}

// ---------------------------------------------------------------- applying

/** Applies parsed targets to `doc` in place (a copy the caller owns); `before` is the document the filter matched. */
export function applyModifiers(doc: Document, before: Document, targets: Target[], options: ModifierOptions): void {
  const run = new Run(before, options);
  for (const t of targets) {
    if (t.op === '$rename') run.rename(doc, t);
    else run.each(doc, t.parts, CREATING.has(t.op), (container, key, path) => applyOperator(t, container, key, run.field(path)));
  }
}

type Container = Document | unknown[];
type Visit = (container: Container, key: string | number, path: string[]) => void;

/** One document's update: the positional match and the array filters, computed once. */
class Run {
  private readonly filters = new Map<string, Matcher>();
  private positional?: number | null;

  constructor(
    private readonly before: Document,
    private readonly options: ModifierOptions,
  ) {
    for (const filter of options.arrayFilters) {
      const id = Object.keys(filter)[0].split('.')[0];
      this.filters.set(id, compileFilter(filter, options.evalOptions));
    }
  }

  field(path: string[]): FieldContext {
    return { path: path.join('.'), id: this.before._id, evalOptions: this.options.evalOptions };
  }

  /** Calls `visit` with the container and key of every field `parts` reaches in `doc`. */
  each(doc: Document, parts: string[], creating: boolean, visit: Visit): void {
    this.walk(doc, parts, 0, [], creating, visit);
  }

  private walk(value: Container, parts: string[], i: number, at: string[], creating: boolean, visit: Visit): void {
    const part = parts[i];
    for (const key of this.keys(value, part, parts, at, creating)) {
      const path = [...at, String(key)];
      if (i === parts.length - 1) {
        visit(value, key, path);
        continue;
      }
      let next = (value as Document)[key as string];
      if (next === undefined) {
        if (isPositional(parts[i + 1])) throw this.mustExist(parts[i + 1], path);
        if (!creating) continue;
        next = {};
        setAt(value, key, next);
      } else if (!isContainer(next)) {
        if (isPositional(parts[i + 1])) throw this.notArray(parts[i + 1], String(key), next);
        if (creating) throw notViable(parts[i + 1], String(key), next);
        continue;
      }
      this.walk(next as Container, parts, i + 1, path, creating, visit);
    }
  }

  /** The keys a path part stands for in `value` (the container reached so far). */
  private keys(value: Container, part: string, parts: string[], at: string[], creating: boolean): Array<string | number> {
    if (!isPositional(part)) {
      if (!Array.isArray(value)) return [part];
      if (/^\d+$/.test(part)) return [Number(part)];
      if (creating) throw notViable(part, at[at.length - 1] ?? '', value);
      return [];
    }
    if (!Array.isArray(value)) throw this.notArray(part, at[at.length - 1] ?? '', value);
    if (part === '$') {
      const index = this.matchedIndex(at);
      return index === undefined ? [] : [index];
    }
    if (part === '$[]') return value.map((_, i) => i);
    const matches = this.filters.get(part.slice(2, -1))!;
    const id = part.slice(2, -1);
    return value.flatMap((element, i) => (matches({ [id]: element }) ? [i] : []));
  }

  /** The index of the first element of the array at `at` that the filter's conditions on it accept. */
  private matchedIndex(at: string[]): number | undefined {
    if (this.positional === undefined) this.positional = this.findMatch(at) ?? null;
    if (this.positional === null) throw positionalNotFound();
    return this.positional;
  }

  private findMatch(at: string[]): number | undefined {
    const arrayPath = at.join('.');
    const clauses = clausesOn(this.options.filter, arrayPath);
    let array: unknown = this.before;
    for (const part of at) array = array === null || typeof array !== 'object' ? undefined : (array as Document)[part];
    if (clauses.length === 0 || !Array.isArray(array) || this.options.inserting) return undefined;
    const matches = compileFilter(clauses.length === 1 ? clauses[0] : { $and: clauses }, this.options.evalOptions);
    const index = array.findIndex((element) => matches(nested(at, [element])));
    return index < 0 ? undefined : index;
  }

  /** `$rename`: the source's value moves to the target path (neither may go through an array). */
  rename(doc: Document, t: Target): void {
    const to = String(t.arg).split('.');
    let found: { container: Container; key: string | number } | undefined;
    this.each(doc, t.parts, false, (container, key) => {
      if (Array.isArray(container)) throw renameThroughArray('source', t.path, this.before._id);
      if (key in container) found = { container, key };
    });
    if (!found) return;
    const value = (found.container as Document)[found.key as string];
    delete (found.container as Document)[found.key as string];
    this.each(doc, to, true, (container, key) => {
      if (Array.isArray(container)) throw renameThroughArray('destination', to.join('.'), this.before._id);
      (container as Document)[key as string] = value;
    });
  }

  private mustExist(part: string, path: string[]): CommandError {
    if (part === '$') return positionalNotFound();
    return new CommandError('BadValue', `The path '${path.join('.')}' must exist in the document in order to apply array updates.`);
  }

  private notArray(part: string, field: string, value: unknown): CommandError {
    if (part === '$') return positionalNotFound();
    return new CommandError('BadValue', `Cannot apply array updates to non-array element ${field}: ${JSON.stringify(value)}`);
  }
}

/** The filter's conditions on an array path: its top-level (and `$and`) entries on the path or inside it. */
function clausesOn(filter: Document, arrayPath: string): Document[] {
  const out: Document[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) out.push(...value.flatMap((clause) => clausesOn(clause as Document, arrayPath)));
    else if (key === arrayPath || key.startsWith(`${arrayPath}.`)) out.push({ [key]: value });
  }
  return out;
}

/** `{ a: { b: value } }` for the path `a.b`. */
function nested(path: string[], value: unknown): Document {
  return path.reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) as Document;
}

function isContainer(value: unknown): value is Container {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function notViable(field: string, parent: string, value: unknown): CommandError {
  return new CommandError('PathNotViable', `Cannot create field '${field}' in element {${parent}: ${JSON.stringify(value)}}`);
}

function positionalNotFound(): CommandError {
  return new CommandError('BadValue', 'The positional operator did not find the match needed from the query.');
}

function renameThroughArray(which: 'source' | 'destination', path: string, id: unknown): CommandError {
  return new CommandError('BadValue', `The ${which} field cannot be an array element, '${path}' in doc with _id: ${JSON.stringify(id)} has an array field called '${path.split('.')[0]}'`);
}
