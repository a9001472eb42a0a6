/**
 * The document an upsert starts from: the fields the filter fixes by
 * equality.
 */
import type { Document } from 'bson';
import { CommandError } from '../errors';
import { copyDocument } from '../values';

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
      if (eq instanceof RegExp || (eq as { _bsontype?: string } | null)?._bsontype === 'BSONRegExp') continue;
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

function isContainer(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
