/**
 * What the data commands share: the documents a statement reads, the
 * checks every write makes (ids, validators, hints, batch sizes), and the
 * insert, update and delete of one statement, which `insert`, `update`,
 * `delete`, `findAndModify`, `bulkWrite`, `$out` and `$merge` all run.
 */
import { BSON, ObjectId, type Document } from 'bson';
import { ArraySource, type Batch, type CursorSource } from '../cursors';
import { CommandError } from '../errors';
import { numKind } from '../numbers';
import { updateTargets } from '../update-description';
import { runPipeline, select, type EvalOptions } from '../query';
import { compileValidator } from '../validation';
import { refuseView, resolveView, type ResolvedView } from '../views';
import { CollectionData, sameValue } from '../store';
import { applyUpdate, idFirst, updateKind, upsertDocument, type UpdateOptions } from '../update';
import type { FieldType } from './args';
import type { CommandContext } from './types';

/** mongod's `maxWriteBatchSize`. */
const MAX_WRITE_BATCH = 100_000;

export interface Namespace {
  db: string;
  coll: string;
}

export function documents(ctx: CommandContext, ns: Namespace): Document[] {
  const data = ctx.view.collection(ns.db, ns.coll);
  return data ? [...data.docs.values()] : [];
}

/** What a read of `ns` sees: a collection's documents, or what a view computes from its collection. */
export function readDocuments(ctx: CommandContext, ns: Namespace): Document[] {
  const view = resolveView(ctx.store, ns.db, ns.coll);
  return view ? throughView(ctx, ns.db, view, [], {}) : documents(ctx, ns);
}

/**
 * A read through a view: the view's pipeline over its collection, then
 * `stages` (the read's own filter, sort, … as pipeline stages), with the
 * view's collation unless the read names one.
 */
export function throughView(ctx: CommandContext, db: string, view: ResolvedView, stages: Document[], options: EvalOptions): Document[] {
  return runPipeline(documents(ctx, { db, coll: view.coll }), [...view.pipeline, ...stages], {
    ...options,
    collation: options.collation ?? view.collation,
    collection: (name) => readDocuments(ctx, { db, coll: name }),
  });
}

/** The documents a filter can match: one by `_id` lookup when it names a single plain `_id`, else all. */
export function candidates(data: CollectionData | undefined, filter: Document): Iterable<Document> {
  if (!data) return [];
  const id = filter._id;
  if (Object.keys(filter).length === 1 && (typeof id === 'string' || numKind(id) || id instanceof ObjectId)) {
    const doc = data.get(id);
    return doc ? [doc] : [];
  }
  return data.docs.values();
}

/** mongod refuses a hint naming no index of an existing collection. */
export function checkHint(data: CollectionData | undefined, hint: unknown): void {
  if (hint === undefined || hint === null || !data) return;
  const found = typeof hint === 'string'
    ? data.indexes.some((i) => i.name === hint)
    : Object.keys(hint as Document).length === 0 || '$natural' in (hint as Document) ||
      data.indexes.some((i) => sameValue(i.key, hint));
  if (!found) {
    throw new CommandError('BadValue', 'planner returned error :: caused by :: hint provided does not correspond to an existing index');
  }
}

export function evalOptions(cmd: Document, statement: Document = {}): EvalOptions {
  return { let: cmd.let as Document | undefined, collation: (statement.collation ?? cmd.collation) as Document | undefined };
}

export function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** The first batch only: the cursor is closed after it (`singleBatch`). */
export function singleBatch(source: ArraySource): CursorSource {
  return { next: (batchSize) => ({ ...(source.next(batchSize) as Batch), exhausted: true }) };
}


// ---------------------------------------------------------------- writes

export interface StatementError {
  index: number;
  error: CommandError;
}

/**
 * The statements of a write command, run as mongod runs them: an error stops
 * an ordered batch. `apply` runs a statement and returns its outcome,
 * `record` counts it. In a retryable write each applied statement's outcome
 * is remembered on the session, so a retry counts it again without applying
 * it again and runs only the statements that did not go through.
 */
export function runStatements<T, R>(
  ctx: CommandContext,
  ordered: boolean,
  items: T[],
  apply: (item: T, index: number) => R,
  record: (outcome: R, index: number) => void,
): StatementError[] {
  const errors: StatementError[] = [];
  const done = ctx.retryableWrite ? ctx.session?.statements : undefined;
  for (let i = 0; i < items.length; i++) {
    if (done?.has(i)) {
      record(done.get(i) as R, i);
      continue;
    }
    try {
      const outcome = retryableStatement(ctx, () => apply(items[i], i));
      done?.set(i, outcome);
      record(outcome, i);
    } catch (error) {
      // In a transaction the whole command fails (and the transaction aborts).
      if (!(error instanceof CommandError) || ctx.transaction) throw error;
      errors.push({ index: i, error });
      if (ordered) break;
    }
  }
  return errors;
}

/**
 * One statement of a retryable write, under the `onPrimaryTransactionalWrite`
 * fail point: it may fail without being applied, or be applied and then
 * lose its connection (the reply never reaches the client).
 */
export function retryableStatement<R>(ctx: CommandContext, apply: () => R): R {
  const action = ctx.retryableWrite ? ctx.member.failPoints.transactionalWrite() : undefined;
  if (action?.failBeforeCommitExceptionCode !== undefined) {
    throw CommandError.withCode(action.failBeforeCommitExceptionCode, "Failing write for test 'onPrimaryTransactionalWrite'");
  }
  const outcome = apply();
  if (action?.closeConnection) ctx.connection.destroy();
  return outcome;
}

/** A write command's `writeErrors` entries. */
export function writeErrors(errors: StatementError[]): Document {
  if (errors.length === 0) return {};
  return { writeErrors: errors.map(({ index, error }) => ({ index, code: error.code, errmsg: error.message, ...error.extra })) };
}

export function checkBatch(count: number): void {
  if (count === 0 || count > MAX_WRITE_BATCH) {
    throw new CommandError('InvalidLength', `Write batch sizes must be between 1 and ${MAX_WRITE_BATCH}. Got ${count} operations.`);
  }
}

export function checkId(doc: Document): void {
  const id = doc._id;
  if (Array.isArray(id)) throw new CommandError('InvalidIdField', "can't use an array for _id");
  if (id instanceof RegExp || (id as { _bsontype?: string } | null)?._bsontype === 'BSONRegExp') {
    throw new CommandError('InvalidIdField', "can't use a regex for _id");
  }
  if (isDocument(id)) {
    const dollar = Object.keys(id).find((k) => k.startsWith('$'));
    if (dollar) throw new CommandError('DollarPrefixedFieldName', `_id fields may not contain '$'-prefixed fields: ${dollar} is not valid for storage.`);
  }
}

/**
 * A collection validator as mongod applies it to a write: `strict` checks
 * every insert and update, `moderate` leaves updates of documents that
 * already fail it alone, `off` nothing; `warn` lets the write through
 * (mongod only logs it).
 */
export function checkValidation(ctx: CommandContext, ns: Namespace, doc: Document, before: Document | undefined, bypass: boolean): void {
  const options = ctx.view.collection(ns.db, ns.coll)?.options;
  if (bypass || !options?.validator || options.validationLevel === 'off' || options.validationAction === 'warn') return;
  const check = compileValidator(options.validator as Document);
  if (options.validationLevel === 'moderate' && before && check(before) !== undefined) return;
  const details = check(doc);
  if (details) {
    throw new CommandError('DocumentValidationFailure', 'Document failed validation', { extra: { errInfo: { failingDocumentId: doc._id, details } } });
  }
}

export function insertDocument(ctx: CommandContext, ns: Namespace, raw: Document, bypass: boolean): void {
  refuseView(ctx.store, ns.db, ns.coll);
  const doc = idFirst(raw);
  checkId(doc);
  checkValidation(ctx, ns, doc, undefined, bypass);
  ctx.view.write({ op: 'insert', db: ns.db, coll: ns.coll, doc });
  evictCapped(ctx, ns);
}

/** A capped collection over its `max` documents or `size` bytes loses its oldest documents. */
function evictCapped(ctx: CommandContext, ns: Namespace): void {
  const data = ctx.view.collection(ns.db, ns.coll);
  if (!data?.options.capped) return;
  const max = typeof data.options.max === 'number' ? data.options.max : Infinity;
  const size = typeof data.options.size === 'number' ? data.options.size : Infinity;
  const docs = [...data.docs.values()];
  let bytes = docs.reduce((sum, d) => sum + BSON.calculateObjectSize(d), 0);
  let count = docs.length;
  for (const oldest of docs) {
    if (count <= 1 || (count <= max && bytes <= size)) break;
    ctx.view.write({ op: 'delete', db: ns.db, coll: ns.coll, before: oldest });
    count -= 1;
    bytes -= BSON.calculateObjectSize(oldest);
  }
}

/** One update statement in the shape shared by `update`, `findAndModify` and `bulkWrite`. */
export interface UpdateStatement {
  filter: Document;
  u: Document | Document[];
  multi: boolean;
  upsert: boolean;
  arrayFilters?: Document[];
  sort?: Document;
  hint?: unknown;
  options: EvalOptions;
  bypass: boolean;
}

export interface UpdateOutcome {
  n: number;
  nModified: number;
  upsertedId?: unknown;
  /** For findAndModify: the (last) document updated, before and after. */
  before?: Document;
  after?: Document;
}

export function updateOptions(ctx: CommandContext, s: UpdateStatement): UpdateOptions {
  return { filter: s.filter, arrayFilters: s.arrayFilters, evalOptions: s.options, timestamp: () => ctx.store.tick() };
}

export function runUpdate(ctx: CommandContext, ns: Namespace, s: UpdateStatement): UpdateOutcome {
  refuseView(ctx.store, ns.db, ns.coll);
  const kind = updateKind(s.u);
  if (s.multi && kind === 'replacement') {
    throw new CommandError('FailedToParse', 'multi update is not supported for replacement-style update');
  }
  const data = ctx.view.collection(ns.db, ns.coll);
  checkHint(data, s.hint);
  const matches = select(candidates(data, s.filter), s.filter, { ...s.options, sort: s.multi ? undefined : s.sort, limit: s.multi ? 0 : 1 });
  const options = updateOptions(ctx, s);
  if (matches.length === 0) {
    if (!s.upsert) return { n: 0, nModified: 0 };
    const doc = upsertDocument(s.filter, s.u, options);
    checkId(doc);
    checkValidation(ctx, ns, doc, undefined, s.bypass);
    ctx.view.write({ op: 'insert', db: ns.db, coll: ns.coll, doc });
    return { n: 1, nModified: 0, upsertedId: doc._id, after: doc };
  }
  let nModified = 0;
  let last: { before: Document; after: Document } | undefined;
  for (const before of matches) {
    const after = applyUpdate(before, s.u, options);
    last = { before, after };
    // mongod writes nothing (no oplog entry) for an update that changes nothing.
    if (sameValue(before, after)) continue;
    checkValidation(ctx, ns, after, before, s.bypass);
    ctx.view.write({
      op: kind === 'replacement' ? 'replace' : 'update',
      db: ns.db,
      coll: ns.coll,
      before,
      after,
      targets: kind === 'operators' ? updateTargets(s.u as Document) : undefined,
    });
    nModified += 1;
  }
  return { n: matches.length, nModified, ...last };
}

export function runDelete(ctx: CommandContext, ns: Namespace, filter: Document, multi: boolean, hint: unknown, options: EvalOptions): Document[] {
  refuseView(ctx.store, ns.db, ns.coll);
  const data = ctx.view.collection(ns.db, ns.coll);
  checkHint(data, hint);
  const matches = select(candidates(data, filter), filter, { ...options, limit: multi ? 0 : 1 });
  for (const before of matches) ctx.view.write({ op: 'delete', db: ns.db, coll: ns.coll, before });
  return matches;
}

export const WRITE_FIELDS: Record<string, FieldType> = {
  ordered: 'bool',
  bypassDocumentValidation: 'boolish',
  stmtIds: 'array',
  collectionUUID: 'any',
  isTimeseriesNamespace: 'bool',
  encryptionInformation: 'object',
};

/** `let` variables, plus a statement's constants (`c`). */
export function letWith(vars: Document | undefined, constants: Document | undefined): Document | undefined {
  return constants ? { ...vars, ...constants } : vars;
}
