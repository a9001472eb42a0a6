/**
 * The change-stream `updateDescription` of an update, as mongod writes it.
 *
 * An operator update is logged by what its operators targeted: a field set
 * as a whole (`$set: { a: { b: 1 } }`) is `updatedFields: { a: { b: 1 } }`,
 * a dotted path (`$set: { 'a.b': 1 }`) is `{ 'a.b': 1 }`, positional and
 * filtered paths name the elements they reached (`arr.1.x`), a plain `$push`
 * names the appended elements (`arr.2`), and any other array operator
 * (`$pop`, `$pull`, `$addToSet`, `$push` with modifiers) the whole array. A
 * pipeline update is logged by a diff of the two documents, which goes down
 * into subdocuments and arrays and reports a shortened array in
 * `truncatedArrays`.
 *
 * `disambiguatedPaths` (shown with `showExpandedEvents`) spells out each
 * path that a dotted string leaves ambiguous: one with a field name holding
 * a dot, or a numeric field name of a subdocument; array indices in it are
 * numbers.
 */
import type { Document } from 'bson';
import { sameValue } from './values';

export interface UpdateDescription {
  updatedFields: Document;
  removedFields: string[];
  truncatedArrays: Array<{ field: string; newSize: number }>;
  disambiguatedPaths: Document;
}

/** A path an update operator writes; positional parts (`$`, `$[]`, `$[id]`) stand for any array index. */
export interface UpdateTarget {
  parts: string[];
  op: string;
}

/** The paths an operator update document writes. */
export function updateTargets(u: Document): UpdateTarget[] {
  const targets: UpdateTarget[] = [];
  for (const [op, args] of Object.entries(u)) {
    if (op === '$setOnInsert') continue;
    for (const [path, value] of Object.entries(args as Document)) {
      targets.push({ parts: path.split('.'), op });
      if (op === '$rename' && typeof value === 'string') targets.push({ parts: value.split('.'), op });
    }
  }
  return targets;
}

/** Top-level fields written as a whole (a `$merge` merge, a pipeline `$set` of top-level fields). */
export function topLevelTargets(doc: Document): UpdateTarget[] {
  return Object.keys(doc).map((k) => ({ parts: [k], op: '$set' }));
}

/** Describes `before` → `after`; with `targets`, as an operator update logs it, else as a pipeline diff. */
export function describeUpdate(before: Document, after: Document, targets?: UpdateTarget[]): UpdateDescription {
  const out: UpdateDescription = { updatedFields: {}, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} };
  new Describer(out, targets).document(before, after, []);
  return out;
}

type Part = string | number;

class Describer {
  constructor(
    private readonly out: UpdateDescription,
    private readonly targets: UpdateTarget[] | undefined,
  ) {}

  document(before: Document, after: Document, path: Part[]): void {
    for (const key of Object.keys(before)) {
      if (!(key in after)) this.removed([...path, key]);
    }
    for (const [key, value] of Object.entries(after)) {
      if (!sameValue(before[key], value)) this.changed(before[key], value, [...path, key], key in before);
    }
  }

  private changed(was: unknown, is: unknown, path: Part[], existed: boolean): void {
    const target = this.targets?.find((t) => matches(t.parts, path));
    if (target) {
      if (target.op === '$push' && existed && isAppend(was, is)) this.appended(was as unknown[], is as unknown[], path);
      else this.updated(path, is);
      return;
    }
    const descend = this.targets === undefined || this.targets.some((t) => t.parts.length > path.length && matches(t.parts.slice(0, path.length), path));
    if (descend && isPlainObject(was) && isPlainObject(is)) this.document(was, is, path);
    else if (descend && Array.isArray(was) && Array.isArray(is)) this.array(was, is, path);
    else this.updated(path, is);
  }

  /** Arrays: element by element; in a pipeline diff a shortened prefix is a truncation, a rewrite the whole array. */
  private array(was: unknown[], is: unknown[], path: Part[]): void {
    const common = Math.min(was.length, is.length);
    const changed: number[] = [];
    for (let i = 0; i < common; i++) if (!sameValue(was[i], is[i])) changed.push(i);
    if (this.targets === undefined) {
      if (is.length < was.length && changed.length > 0) return this.updated(path, is);
      if (is.length >= was.length && common > 0 && changed.length === common) return this.updated(path, is);
      if (is.length < was.length) this.out.truncatedArrays.push({ field: this.key(path), newSize: is.length });
    }
    for (const i of changed) this.changed(was[i], is[i], [...path, i], true);
    for (let i = common; i < is.length; i++) this.updated([...path, i], is[i]);
  }

  private appended(was: unknown[], is: unknown[], path: Part[]): void {
    for (let i = was.length; i < is.length; i++) this.updated([...path, i], is[i]);
  }

  private updated(path: Part[], value: unknown): void {
    this.out.updatedFields[this.key(path)] = value;
  }

  private removed(path: Part[]): void {
    this.out.removedFields.push(this.key(path));
  }

  /** The dotted key of a path, noting it in disambiguatedPaths when the dots leave it ambiguous. */
  private key(path: Part[]): string {
    const key = path.join('.');
    const ambiguous = path.some((p, i) => typeof p === 'string' && (p.includes('.') || (i > 0 && /^\d+$/.test(p))));
    if (ambiguous) this.out.disambiguatedPaths[key] = path;
    return key;
  }
}

/** Whether a target's parts name `path` (positional parts match any array index). */
function matches(parts: string[], path: Part[]): boolean {
  if (parts.length !== path.length) return false;
  return parts.every((p, i) => (typeof path[i] === 'number' ? p === String(path[i]) || p.startsWith('$') : p === path[i]));
}

function isAppend(was: unknown, is: unknown): boolean {
  if (!Array.isArray(was) || !Array.isArray(is) || is.length <= was.length) return false;
  return was.every((v, i) => sameValue(v, is[i]));
}

function isPlainObject(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) &&
    !(value instanceof Date) && (value as { _bsontype?: string })._bsontype === undefined;
}
