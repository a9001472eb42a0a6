/**
 * Argument checks, declared once per kind of argument (a write's filter, a
 * document, an options object, …); the member tables and the hand-written
 * methods say which kind each argument is. The driver would misread these
 * values silently or fail with a message that names neither argument nor
 * value (a missing write filter even means "every document").
 *
 * Shape errors are thrown at the call (`TypeError`, `RangeError` for numbers
 * out of range), naming the method, the argument and the value. A document
 * over the server's size limit can only be judged against that limit, so it
 * errors the Observable instead (`DocumentTooLargeError`).
 */
import { BSON, MongoInvalidArgumentError, type BSONSerializeOptions, type Document } from 'mongodb';
import { DocumentTooLargeError } from '../errors';
import { describe, validateCollectionName } from '../driver/names';

/** How one argument is checked. */
export interface Arg {
  /** The driver's name for the argument (`filter`, `options`, …). */
  readonly name: string;
  /** Throws for a value of the wrong shape; `at` names it, e.g. `deleteMany(filter)`. */
  readonly check?: (value: unknown, at: string) => void;
  /** Throws `DocumentTooLargeError` for a document over `limit` bytes. */
  readonly size?: (value: unknown, at: string, limit: number, bson: BSONSerializeOptions) => void;
  /**
   * The driver measures these documents itself (its bulk writer serializes
   * each one once and refuses one too large): `size` then runs only after
   * such a refusal, to name the document, instead of measuring every
   * document a second time.
   */
  readonly measuredByDriver?: true;
}

/** Whether `error` is the driver's bulk writer refusing a document over the size limit. */
export function isOversizeRefusal(error: unknown): boolean {
  return error instanceof MongoInvalidArgumentError && error.message.startsWith('Document is larger than the maximum size');
}

/** An argument checked as anything but an options object. */
export interface PlainArg extends Arg {
  readonly options?: never;
}

/**
 * An options object whose keys must be among `options`. `K` is the union of
 * those names, held invariant so that the compiler can require a list to
 * name exactly the keys of a driver options type.
 */
export interface OptionsArg<K extends string> extends Arg {
  readonly options: ReadonlySet<string>;
  /** Type-only. */
  readonly keys?: (key: K) => K;
}

/** An options list naming exactly the keys of the driver options type `T`. */
export type OptionsFor<T> = OptionsArg<KeysOfUnion<T> & string>;
export type KeysOfUnion<T> = T extends unknown ? keyof T : never;

/** Not checked. */
export const ANY: PlainArg = { name: 'argument' };

/** The filter of a write: required, `{}` meaning every document. */
export const FILTER: PlainArg = {
  name: 'filter',
  check(value, at) {
    if (!isDocument(value)) {
      throw new TypeError(`${at}: a write needs a filter document ({} matches every document), got ${describe(value)}`);
    }
  },
};

/** The filter of a read: optional. */
export const QUERY: PlainArg = {
  name: 'filter',
  check(value, at) {
    if (value != null && !isDocument(value)) throw new TypeError(`${at}: the filter must be a document, got ${describe(value)}`);
  },
};

/** A document to insert. */
export const DOCUMENT: PlainArg = {
  name: 'document',
  check: (value, at) => requireDocument(value, at, 'the document'),
  size: (value, at, limit, bson) => checkSize(value as Document, at, 'the document', limit, bson, true),
};

/** Documents to insert. */
export const DOCUMENTS: PlainArg = {
  name: 'documents',
  check(value, at) {
    if (!Array.isArray(value)) throw new TypeError(`${at}: documents must be an array of documents, got ${describe(value)}`);
    value.forEach((doc, i) => requireDocument(doc, at, `documents[${i}]`));
  },
  size(value, at, limit, bson) {
    (value as Document[]).forEach((doc, i) => checkSize(doc, at, `documents[${i}]`, limit, bson, true));
  },
  measuredByDriver: true,
};

/** A replacement document. */
export const REPLACEMENT: PlainArg = {
  name: 'replacement',
  check: (value, at) => requireDocument(value, at, 'the replacement'),
  size: (value, at, limit, bson) => checkSize(value as Document, at, 'the replacement', limit, bson, false),
};

/** An update: a document of update operators or a pipeline (the driver checks the operators). */
export const UPDATE: PlainArg = {
  name: 'update',
  check(value, at) {
    if (value === null || typeof value !== 'object') {
      throw new TypeError(`${at}: the update must be a document of update operators or a pipeline, got ${describe(value)}`);
    }
  },
};

/** An aggregation pipeline: optional array of stages. */
export const PIPELINE: PlainArg = {
  name: 'pipeline',
  check(value, at) {
    if (value === undefined) return;
    if (!Array.isArray(value)) throw new TypeError(`${at}: the pipeline must be an array of stages, got ${describe(value)}`);
    value.forEach((stage, i) => requireDocument(stage, at, `pipeline[${i}]`));
  },
};

/** A database command: its first key names it. */
export const COMMAND: PlainArg = {
  name: 'command',
  check(value, at) {
    requireDocument(value, at, 'the command');
    if (Object.keys(value).length === 0) {
      throw new TypeError(`${at}: the command document is empty; its first key names the command, e.g. { ping: 1 }`);
    }
  },
};

/** A collection name, validated as the server would. */
export const NAME: PlainArg = {
  name: 'name',
  check: (value) => validateCollectionName(value),
};

/** A function argument, e.g. the body of `withSession`. */
export const CALLBACK: PlainArg = {
  name: 'fn',
  check(value, at) {
    if (typeof value !== 'function') throw new TypeError(`${at}: expected a function returning an Observable, got ${describe(value)}`);
  },
};

/** The write models of `collection.bulkWrite` (`{ deleteMany: { filter } }`, …). */
export const WRITE_OPERATIONS: PlainArg = {
  name: 'operations',
  check: (value, at) =>
    eachModel(value, at, 'operations', (model, subject) => {
      const [kind, ...more] = Object.keys(model);
      const body: unknown = model[kind];
      if (kind === undefined || more.length > 0 || !MODEL_KINDS.has(kind) || !isDocument(body)) {
        throw new TypeError(`${at}: ${subject} must be one of { ${[...MODEL_KINDS].join(' | ')}: {…} }, got ${describe(model)}`);
      }
      checkModel(kind, body, at, `${subject}.${kind}`);
    }),
  size: (value, at, limit, bson) =>
    eachModel(value, at, 'operations', (model, subject) => {
      const kind = Object.keys(model)[0];
      sizeModel(kind, model[kind], at, `${subject}.${kind}`, limit, bson);
    }),
  measuredByDriver: true,
};

/** The models of `client.bulkWrite` (`{ name: 'deleteMany', namespace, filter }`, …). */
export const CLIENT_WRITE_MODELS: PlainArg = {
  name: 'models',
  check: (value, at) =>
    eachModel(value, at, 'models', (model, subject) => {
      if (typeof model.name !== 'string' || !MODEL_KINDS.has(model.name)) {
        throw new TypeError(`${at}: ${subject}.name must be one of ${[...MODEL_KINDS].join(', ')}, got ${describe(model.name)}`);
      }
      checkModel(model.name, model, at, subject);
    }),
  size: (value, at, limit, bson) =>
    eachModel(value, at, 'models', (model, subject) => sizeModel(model.name, model, at, subject, limit, bson)),
};

/**
 * An options object whose keys must be among `names`; the values of the
 * numeric options the driver would misread (`batchSize: '10'`, `limit: NaN`)
 * are checked too.
 */
export function options<const N extends readonly string[]>(...names: N): OptionsArg<N[number]> {
  const known = new Set<string>(names);
  return {
    name: 'options',
    options: known,
    check(value, at) {
      if (value === undefined) return;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new TypeError(`${at}: options must be an object, got ${describe(value)}`);
      }
      for (const key of Object.keys(value)) {
        if (!known.has(key)) throw unknownOption(at, key, known);
        const rule = NUMERIC_OPTIONS[key];
        const given = (value as Record<string, unknown>)[key];
        if (rule !== undefined && given !== undefined) rule(given, `${at}: options.${key}`);
      }
    },
  };
}

/** Runs `arg`'s shape check for a hand-written method. */
export function checkArgument(method: string, arg: Arg, value: unknown): void {
  arg.check?.(value, `${method}(${arg.name})`);
}

/** Numeric options, checked wherever they appear: a non-number is a `TypeError`, a bad number a `RangeError`. */
const NUMERIC_OPTIONS: Readonly<Record<string, (value: unknown, at: string) => void>> = {
  batchSize: integer(0),
  skip: integer(0),
  limit: integer(-Infinity),
  maxTimeMS: integer(0),
  maxAwaitTimeMS: integer(0),
  maxCommitTimeMS: integer(0),
  timeoutMS: integer(0),
  defaultTimeoutMS: integer(0),
};

function integer(min: number): (value: unknown, at: string) => void {
  const wanted = min === 0 ? 'a non-negative integer' : 'an integer';
  return (value, at) => {
    if (typeof value !== 'number') throw new TypeError(`${at} must be ${wanted}, got ${describe(value)}`);
    if (!Number.isInteger(value) || value < min) throw new RangeError(`${at} must be ${wanted}, got ${describe(value)}`);
  };
}

function unknownOption(at: string, key: string, known: ReadonlySet<string>): TypeError {
  let near: string | undefined;
  let nearest = 3; // farther than two edits is no typo
  for (const name of known) {
    const distance = editDistance(name.toLowerCase(), key.toLowerCase());
    if (distance < nearest) [near, nearest] = [name, distance];
  }
  const hint = near === undefined ? '' : ` (did you mean '${near}'?)`;
  return new TypeError(`${at}: unknown option '${key}'${hint}; known options: ${[...known].sort().join(', ')}`);
}

/** Levenshtein distance, for the "did you mean" of an unknown option (error path only). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

const MODEL_KINDS: ReadonlySet<string> = new Set(['insertOne', 'replaceOne', 'updateOne', 'updateMany', 'deleteOne', 'deleteMany']);

/** Visits each model of a bulk write, named `name[i]` in messages (`operations[2]`). */
function eachModel(value: unknown, at: string, name: string, visit: (model: Document, subject: string) => void): void {
  if (!Array.isArray(value)) throw new TypeError(`${at}: ${name} must be an array of write models, got ${describe(value)}`);
  value.forEach((model, i) => {
    requireDocument(model, at, `${name}[${i}]`);
    visit(model, `${name}[${i}]`);
  });
}

function checkModel(kind: string, body: Document, at: string, subject: string): void {
  if (kind === 'insertOne') {
    // The driver also takes the document itself in place of `{ document }`.
    if ('document' in body) requireDocument(body.document, at, `${subject}.document`);
    return;
  }
  if (!isDocument(body.filter)) {
    throw new TypeError(`${at}: ${subject}.filter is required ({} matches every document), got ${describe(body.filter)}`);
  }
  if (kind === 'replaceOne') requireDocument(body.replacement, at, `${subject}.replacement`);
  if ((kind === 'updateOne' || kind === 'updateMany') && (body.update === null || typeof body.update !== 'object')) {
    throw new TypeError(`${at}: ${subject}.update must be a document of update operators or a pipeline, got ${describe(body.update)}`);
  }
}

function sizeModel(kind: string, body: Document, at: string, subject: string, limit: number, bson: BSONSerializeOptions): void {
  if (kind === 'insertOne') {
    const document = isDocument(body.document) ? body.document : body;
    checkSize(document, at, `${subject}.document`, limit, bson, true);
  } else if (kind === 'replaceOne') {
    checkSize(body.replacement as Document, at, `${subject}.replacement`, limit, bson, false);
  }
}

/** BSON size of the `_id: ObjectId` the driver adds to an insert without one: type, `"_id\0"`, 12 bytes. */
const ADDED_ID_BYTES = 1 + 4 + 12;

function checkSize(doc: Document, at: string, subject: string, limit: number, bson: BSONSerializeOptions, insert: boolean): void {
  const size =
    BSON.calculateObjectSize(doc, { serializeFunctions: bson.serializeFunctions, ignoreUndefined: bson.ignoreUndefined }) +
    (insert && !('_id' in doc) ? ADDED_ID_BYTES : 0);
  if (size > limit) throw new DocumentTooLargeError(`${at}: ${subject}`, size, limit);
}

function requireDocument(value: unknown, at: string, subject: string): asserts value is Document {
  if (!isDocument(value)) throw new TypeError(`${at}: ${subject} must be a document (a plain object), got ${describe(value)}`);
}

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
