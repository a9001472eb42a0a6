/**
 * Update documents as mongod applies them: operator updates
 * (modifiers.ts), pipeline updates (pipeline.ts), replacements, and the
 * document an upsert inserts. Stored documents are never touched: every
 * result is a new document built from a copy.
 */
import { ObjectId, type Document, type Timestamp } from 'bson';
import { CommandError } from '../errors';
import type { EvalOptions } from '../query';
import { copyDocument, sameValue } from '../values';
import { applyModifiers, parseModifiers, type ModifierOptions } from './modifiers';
import { runUpdatePipeline } from './pipeline';
import { equalityFields } from './seed';

/** What an update statement's `u` (or `updateMods`) is. */
export type UpdateKind = 'operators' | 'replacement' | 'pipeline';

const PIPELINE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);

export interface UpdateOptions {
  /** The statement's filter: the positional operator `$` needs it. */
  filter: Document;
  arrayFilters?: Document[];
  /** `let` variables and the collation. */
  evalOptions: EvalOptions;
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
  return 'operators';
}

/** The document `before` becomes under `u`; `before` itself is left untouched. */
export function applyUpdate(before: Document, u: Document | Document[], options: UpdateOptions): Document {
  const kind = updateKind(u);
  if (kind === 'replacement') return replace(before, u as Document);
  const after = kind === 'pipeline'
    ? runUpdatePipeline(before, u as Document[], options.evalOptions)
    : runOperators(before, u as Document, options, false);
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
    doc = kind === 'pipeline' ? runUpdatePipeline(seed, u as Document[], options.evalOptions) : runOperators(seed, u as Document, options, true);
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

/** Applies update operators to a copy of `doc`. */
function runOperators(doc: Document, u: Document, options: UpdateOptions, inserting: boolean): Document {
  const modifierOptions: ModifierOptions = {
    filter: options.filter,
    arrayFilters: options.arrayFilters ?? [],
    evalOptions: options.evalOptions,
    timestamp: options.timestamp,
    inserting,
  };
  const targets = parseModifiers(u, modifierOptions);
  const after = copyDocument(doc);
  applyModifiers(after, doc, targets, modifierOptions);
  return after;
}
