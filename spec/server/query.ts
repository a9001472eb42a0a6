/**
 * The one place the test server hands queries, sorts, projections and
 * pipelines to mingo. Values cross into mingo through {@link forMingo} and
 * back through {@link fromMingo}; mingo's exceptions come back as the errors
 * mongod gives for the same mistakes.
 */
import type { Document } from 'bson';
import { Aggregator } from 'mingo/aggregator';
import { ProcessingMode, evalExpr } from 'mingo/core';
import { Query } from 'mingo/query';
import type { Options } from 'mingo/types';
import { normalizeCollation } from './collation';
import { MONGOD_CONTEXT } from './mingo-adapter';
import { CommandError, type CodeName } from './errors';
import { compareValues } from './bson-order';
import { forMingo, fromMingo, idKey, mingoCopy, restoreNumbers } from './values';

/** Options a read shares with mongod's: `let` variables and a collation. */
export interface EvalOptions {
  let?: Document;
  /** Applied to sorting by mingo and to matching by the adapter (collation.ts). */
  collation?: Document;
}

export interface SelectOptions extends EvalOptions {
  sort?: Document;
  skip?: number;
  /** 0 or absent: no limit. */
  limit?: number;
}

/** A filter compiled once and tested against many documents. */
export type Matcher = (doc: Document) => boolean;

export function compileFilter(filter: Document, options: EvalOptions = {}): Matcher {
  if (Object.keys(filter).length === 0) return () => true;
  const query = guard(() => new Query(forMingo(filter) as Document, mingoOptions(options)));
  return (doc) => guard(() => query.test(forMingo(doc) as Document));
}

/** The documents matching `filter`, sorted, skipped and limited as a find does. */
export function select(docs: Iterable<Document>, filter: Document, options: SelectOptions = {}): Document[] {
  const sort = sortSpec(options.sort);
  const skip = options.skip ?? 0;
  const limit = options.limit ?? 0;
  if (!sort && skip === 0 && limit === 0) {
    const matches = compileFilter(filter, options);
    const out: Document[] = [];
    for (const doc of docs) if (matches(doc)) out.push(doc);
    return out;
  }
  const originals = new Map<Document, Document>();
  const normalised: Document[] = [];
  for (const doc of docs) {
    const n = forMingo(doc) as Document;
    originals.set(n, doc);
    normalised.push(n);
  }
  if (sort?.$natural === -1) normalised.reverse();
  return guard(() => {
    let cursor = new Query(forMingo(filter) as Document, mingoOptions(options)).find(normalised);
    if (sort && !('$natural' in sort)) cursor = cursor.sort(sort as Record<string, 1 | -1>);
    if (skip > 0) cursor = cursor.skip(skip);
    if (limit > 0) cursor = cursor.limit(limit);
    return cursor.all().map((n) => originals.get(n as Document)!);
  });
}

/** A find projection applied to documents already selected by `filter`. */
export function project(docs: Document[], projection: Document, filter: Document, options: EvalOptions = {}): Document[] {
  if (Object.keys(projection).length === 0) return docs;
  // The positional projection (`a.$`) needs the filter that selected the document, so the
  // documents must compare as the filter did; otherwise projecting the stored documents
  // keeps every value's BSON type.
  const positional = Object.keys(projection).some((k) => k.endsWith('.$'));
  const input = positional ? docs.map((d) => forMingo(d) as Document) : docs;
  return guard(() =>
    new Query(positional ? (forMingo(filter) as Document) : {}, mingoOptions(options))
      .find(input, forMingo(projection) as Document)
      .all()
      .map((d) => fromMingo(d) as Document),
  );
}

export interface PipelineOptions extends EvalOptions {
  /** The documents of another collection of the same database ($lookup, $unionWith, $graphLookup). */
  collection(name: string): Document[];
}

/** Runs an aggregation pipeline (without $out/$merge, which the caller handles). */
/**
 * Runs an aggregation pipeline (without $out/$merge, which the caller
 * handles). A result with the `_id` of an input document gets the numeric
 * types of that document's values back where they went through unchanged
 * ({@link restoreNumbers}); other computed numbers come out as int32 when
 * integral and in range, else as doubles.
 */
export function runPipeline(docs: Iterable<Document>, pipeline: Document[], options: PipelineOptions): Document[] {
  const stored = [...docs];
  // Stored documents are immutable: mingo works on copies made here.
  const input = stored.map(mingoCopy);
  const results = guard(() => {
    const aggregator = new Aggregator(forMingo(pipeline) as Document[], {
      ...mingoOptions(options),
      processingMode: ProcessingMode.CLONE_OFF,
      collectionResolver: (name: string) => options.collection(name).map(mingoCopy),
    });
    return aggregator.run(input).map((d) => fromMingo(d) as Document);
  });
  const byId = new Map<string, Document>();
  for (const doc of stored) if (doc._id !== undefined) byId.set(idKey(doc._id), doc);
  return results.map((doc) => {
    const source = doc._id === undefined ? undefined : byId.get(idKey(doc._id));
    return source ? (restoreNumbers(doc, source) as Document) : doc;
  });
}

/** Distinct values, deduplicated and in mongod's (BSON) order, each with its stored type. */
export function distinctValues(values: unknown[]): unknown[] {
  const sorted = [...values].sort(compareValues);
  return sorted.filter((v, i) => i === 0 || compareValues(sorted[i - 1], v) !== 0);
}

/** Validates a sort document the way find and $sort do; `undefined` for none. */
export function sortSpec(sort: Document | undefined): Document | undefined {
  if (!sort || Object.keys(sort).length === 0) return undefined;
  for (const [key, value] of Object.entries(sort)) {
    if (key === '$natural' && (value === 1 || value === -1)) continue;
    if (value === 1 || value === -1) continue;
    if (value && typeof value === 'object' && (value as Document).$meta !== undefined) {
      throw new CommandError('CommandNotSupported', `the wire test server does not support $meta sort keys (${key})`);
    }
    throw new CommandError('Location15975', '$sort key ordering must be 1 (for ascending) or -1 (for descending)');
  }
  return sort;
}

function mingoOptions(options: EvalOptions): Partial<Options> {
  return {
    context: MONGOD_CONTEXT,
    variables: letVariables(options.let),
    // The "simple" collation is binary comparison: mingo's default.
    collation: normalizeCollation(options.collation) as Options['collation'],
    // The server cannot run JavaScript ($where, $function, $accumulator).
    scriptEnabled: false,
  };
}

/**
 * `let` variables, each an expression evaluated once without a document, as
 * mongod evaluates them (`{ $literal: '$x' }` is the string `'$x'`).
 */
function letVariables(vars: Document | undefined): Document | undefined {
  if (!vars) return undefined;
  // mingo fills in the other options.
  const options = { context: MONGOD_CONTEXT, scriptEnabled: false } as Options;
  return guard(() => Object.fromEntries(Object.entries(forMingo(vars) as Document).map(([name, expr]) => {
    if (!/^[a-z\u0080-\uffff][\w\u0080-\uffff]*$/.test(name)) {
      throw new CommandError('Location16870', `'${name}' starts with an invalid character for a user variable name`);
    }
    return [name, evalExpr({}, expr, options)];
  })));
}

/** mingo's messages, and what mongod says about the same mistake. */
const TRANSLATIONS: Array<[RegExp, CodeName, (m: RegExpMatchArray) => string]> = [
  [/^unknown top level operator: (\S+)/, 'BadValue', (m) =>
    `unknown top level operator: ${m[1]}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.`],
  [/^unknown query operator (\S+)/, 'BadValue', (m) => `unknown operator: ${m[1]}`],
  [/^unregistered pipeline operator (\$\w+)/, 'Location40324', (m) => `Unrecognized pipeline stage name: '${m[1]}'`],
  [/^Unknown update operator: '([^']+)'/, 'FailedToParse', (m) =>
    `Unknown modifier: ${m[1]}. Expected a valid update modifier or pipeline-style update specified as an array`],
  [/^Unknown pipeline operator: '([^']+)'/, 'InvalidOptions', (m) =>
    `${m[1]} is not allowed to be used within an update`],
  [/would create a conflict at '([^']+)'/, 'ConflictingUpdateOperators', (m) =>
    `Updating the path '${m[1]}' would create a conflict at '${m[1]}'`],
  [/^You must include the array field for '\.\$'/, 'BadValue', () =>
    'The positional operator did not find the match needed from the query.'],
  [/^Cannot (increment|multiply) with non-numeric argument/, 'TypeMismatch', (m) =>
    `Cannot ${m[1]} with non-numeric argument`],
  [/^(?:accumulator|operator) '(\$\w+)' is not registered/, 'InvalidPipelineOperator', (m) => `Unrecognized expression '${m[1]}'`],
  [/^Cannot do exclusion and inclusion in projection/, 'Location31254', () =>
    'Cannot do exclusion and inclusion in one projection'],
  [/^Path collision at (\S+?)\.?$/, 'Location31250', (m) => `Path collision at ${m[1]}`],
  [/requires 'scriptEnabled'|only accepts a Function/, 'CommandNotSupported', () =>
    'the wire test server cannot run server-side JavaScript ($where, $function, $accumulator)'],
  [/^Use of undefined variable: (\S+)/, 'Location17276', (m) => `Use of undefined variable: ${m[1]}`],
  [/^\$?skip value must be a non-negative integer/, 'Location15956', () => 'Argument to $skip cannot be negative'],
  // mingo's $in/$nin iterate their argument without checking it.
  [/is not iterable/, 'BadValue', () => '$in needs an array'],
  [/^\$(replaceRoot|replaceWith) expression must return an object/, 'Location40228', () =>
    "'newRoot' expression must evaluate to an object"],
  [/^Invalid expression\. \$or expects value to be an Array|^\$or expects array/, 'BadValue', () => '$or must be an array'],
  [/^Expression must contain a single operator/, 'Location15983', () => 'An object representing an expression must have exactly one field'],
];

/** Runs mingo code, turning whatever it throws into a mongod-like error reply. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CommandError) throw err;
    throw translate(err);
  }
}

/**
 * A mingo error with mongod's code where mongod refuses the same mistake;
 * anything else is a gap or a bug of the test server's query engine, which
 * mongod would not have, so it is an InternalError rather than a plausible
 * user error.
 */
function translate(err: unknown): CommandError {
  const message = err instanceof Error ? err.message : String(err);
  for (const [pattern, code, text] of TRANSLATIONS) {
    const m = message.match(pattern);
    if (m) return new CommandError(code, text(m));
  }
  return new CommandError('InternalError', `the wire test server's query engine failed: ${message}`);
}
