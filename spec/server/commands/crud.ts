/**
 * The data commands: insert, find, update, delete, findAndModify, count,
 * distinct, aggregate and the admin `bulkWrite`. Every read goes through
 * `ctx.view.collection` and every document write through `ctx.view.write`,
 * so transactions and change streams see them; queries, updates and
 * pipelines are evaluated by mingo (spec/server/query.ts, update.ts).
 */
import { BSON, ObjectId, UUID, type Document } from 'bson';
import { resolve } from 'mingo/util';
import { openChangeStream } from '../change-streams';
import { ArraySource, type Batch, type CursorSource } from '../cursors';
import { CommandError } from '../errors';
import { compileFilter, distinctValues, project, runPipeline, select, sortSpec, type EvalOptions } from '../query';
import { CollectionData, idKey, sameValue } from '../store';
import { applyUpdate, idFirst, updateKind, upsertDocument, type UpdateOptions } from '../update';
import {
  checkCollection,
  checkFields,
  collectionName,
  cursorBatchSize,
  nonNegative,
  splitNamespace,
  toNumber,
  truthy,
  wrongType,
  type FieldType,
} from './args';
import type { CommandContext, CommandSpec } from './types';

/** mongod's `maxWriteBatchSize`. */
const MAX_WRITE_BATCH = 100_000;

interface Namespace {
  db: string;
  coll: string;
}

function documents(ctx: CommandContext, ns: Namespace): Document[] {
  const data = ctx.view.collection(ns.db, ns.coll);
  return data ? [...data.docs.values()] : [];
}

/** The documents a filter can match: one by `_id` lookup when it names a single plain `_id`, else all. */
function candidates(data: CollectionData | undefined, filter: Document): Iterable<Document> {
  if (!data) return [];
  const id = filter._id;
  if (Object.keys(filter).length === 1 && (typeof id === 'string' || typeof id === 'number' || id instanceof ObjectId)) {
    const doc = data.get(id);
    return doc ? [doc] : [];
  }
  return data.docs.values();
}

/** mongod refuses a hint naming no index of an existing collection. */
function checkHint(data: CollectionData | undefined, hint: unknown): void {
  if (hint === undefined || hint === null || !data) return;
  const found = typeof hint === 'string'
    ? data.indexes.some((i) => i.name === hint)
    : Object.keys(hint as Document).length === 0 || '$natural' in (hint as Document) ||
      data.indexes.some((i) => sameValue(i.key, hint));
  if (!found) {
    throw new CommandError('BadValue', 'planner returned error :: caused by :: hint provided does not correspond to an existing index');
  }
}

function evalOptions(cmd: Document, statement: Document = {}): EvalOptions {
  return { let: cmd.let as Document | undefined, collation: (statement.collation ?? cmd.collation) as Document | undefined };
}

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** The first batch only: the cursor is closed after it (`singleBatch`). */
function singleBatch(source: ArraySource): CursorSource {
  return { next: (batchSize) => ({ ...(source.next(batchSize) as Batch), exhausted: true }) };
}

// ---------------------------------------------------------------- writes

interface StatementError {
  index: number;
  error: CommandError;
}

/** The statements of a write command, run as mongod runs them: an error stops an ordered batch. */
function runStatements<T>(ctx: CommandContext, ordered: boolean, items: T[], apply: (item: T, index: number) => void): StatementError[] {
  const errors: StatementError[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      apply(items[i], i);
    } catch (error) {
      // In a transaction the whole command fails (and the transaction aborts).
      if (!(error instanceof CommandError) || ctx.transaction) throw error;
      errors.push({ index: i, error });
      if (ordered) break;
    }
  }
  return errors;
}

/** A write command's `writeErrors` entries. */
function writeErrors(errors: StatementError[]): Document {
  if (errors.length === 0) return {};
  return { writeErrors: errors.map(({ index, error }) => ({ index, code: error.code, errmsg: error.message, ...error.extra })) };
}

function checkBatch(count: number): void {
  if (count === 0 || count > MAX_WRITE_BATCH) {
    throw new CommandError('InvalidLength', `Write batch sizes must be between 1 and ${MAX_WRITE_BATCH}. Got ${count} operations.`);
  }
}

function checkId(doc: Document): void {
  const id = doc._id;
  if (Array.isArray(id)) throw new CommandError('InvalidIdField', "can't use an array for _id");
  if (id instanceof RegExp) throw new CommandError('InvalidIdField', "can't use a regex for _id");
  if (isDocument(id)) {
    const dollar = Object.keys(id).find((k) => k.startsWith('$'));
    if (dollar) throw new CommandError('DollarPrefixedFieldName', `_id fields may not contain '$'-prefixed fields: ${dollar} is not valid for storage.`);
  }
}

/** A collection validator (query-operator form) as mongod applies it to a write. */
function checkValidation(ctx: CommandContext, ns: Namespace, doc: Document, before: Document | undefined, bypass: boolean): void {
  const options = ctx.view.collection(ns.db, ns.coll)?.options;
  if (bypass || !options?.validator || options.validationLevel === 'off' || options.validationAction === 'warn') return;
  const matches = compileFilter(options.validator as Document);
  if (options.validationLevel === 'moderate' && before && !matches(before)) return;
  if (!matches(doc)) {
    throw new CommandError('DocumentValidationFailure', 'Document failed validation', { extra: { errInfo: { failingDocumentId: doc._id } } });
  }
}

function insertDocument(ctx: CommandContext, ns: Namespace, raw: Document, bypass: boolean): void {
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
interface UpdateStatement {
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

interface UpdateOutcome {
  n: number;
  nModified: number;
  upsertedId?: unknown;
  /** For findAndModify: the (last) document updated, before and after. */
  before?: Document;
  after?: Document;
}

function updateOptions(ctx: CommandContext, s: UpdateStatement): UpdateOptions {
  return { filter: s.filter, arrayFilters: s.arrayFilters, let: s.options.let, timestamp: () => ctx.store.tick() };
}

function runUpdate(ctx: CommandContext, ns: Namespace, s: UpdateStatement): UpdateOutcome {
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
    if (idKey(before) === idKey(after)) continue;
    checkValidation(ctx, ns, after, before, s.bypass);
    ctx.view.write({ op: kind === 'replacement' ? 'replace' : 'update', db: ns.db, coll: ns.coll, before, after });
    nModified += 1;
  }
  return { n: matches.length, nModified, ...last };
}

function runDelete(ctx: CommandContext, ns: Namespace, filter: Document, multi: boolean, hint: unknown, options: EvalOptions): Document[] {
  const data = ctx.view.collection(ns.db, ns.coll);
  checkHint(data, hint);
  const matches = select(candidates(data, filter), filter, { ...options, limit: multi ? 0 : 1 });
  for (const before of matches) ctx.view.write({ op: 'delete', db: ns.db, coll: ns.coll, before });
  return matches;
}

const WRITE_FIELDS: Record<string, FieldType> = {
  ordered: 'bool',
  bypassDocumentValidation: 'boolish',
  stmtIds: 'array',
  collectionUUID: 'any',
  isTimeseriesNamespace: 'bool',
  encryptionInformation: 'object',
};

function insert(ctx: CommandContext, cmd: Document): Document {
  const ns = { db: ctx.db, coll: collectionName(cmd, ctx.db) };
  checkFields(cmd, 'insert', { ...WRITE_FIELDS, documents: 'array' }, { command: true, required: ['documents'] });
  const docs = cmd.documents as unknown[];
  checkBatch(docs.length);
  docs.forEach((d, i) => {
    if (!isDocument(d)) throw wrongType(`insert.documents.${i}`, 'object', d);
  });
  let n = 0;
  const bypass = truthy(cmd.bypassDocumentValidation);
  const errors = runStatements(ctx, cmd.ordered !== false, docs as Document[], (doc) => {
    insertDocument(ctx, ns, doc, bypass);
    n += 1;
  });
  return { n, ...writeErrors(errors) };
}

const UPDATE_STATEMENT_FIELDS: Record<string, FieldType> = {
  q: 'object',
  u: 'update',
  c: 'object',
  arrayFilters: 'array',
  multi: 'boolish',
  upsert: 'boolish',
  upsertSupplied: 'boolish',
  collation: 'object',
  hint: 'hint',
  sort: 'object',
  sampleId: 'any',
  allowShardKeyUpdatesWithoutFullShardKeyInQuery: 'any',
  $_allowShardKeyUpdatesWithoutFullShardKeyInQuery: 'any',
};

function update(ctx: CommandContext, cmd: Document): Document {
  const ns = { db: ctx.db, coll: collectionName(cmd, ctx.db) };
  checkFields(cmd, 'update', { ...WRITE_FIELDS, updates: 'array', let: 'object' }, { command: true, required: ['updates'] });
  const statements = cmd.updates as unknown[];
  checkBatch(statements.length);
  for (const s of statements) {
    if (!isDocument(s)) throw wrongType('update.updates', 'object', s);
    checkFields(s, 'update.updates', UPDATE_STATEMENT_FIELDS, { required: ['q', 'u'] });
    if (s.multi && s.sort) throw new CommandError('FailedToParse', 'Cannot specify sort with multi=true');
  }
  let n = 0;
  let nModified = 0;
  const upserted: Document[] = [];
  const bypass = truthy(cmd.bypassDocumentValidation);
  const errors = runStatements(ctx, cmd.ordered !== false, statements as Document[], (s, index) => {
    const outcome = runUpdate(ctx, ns, {
      filter: s.q as Document,
      u: s.u as Document,
      multi: truthy(s.multi),
      upsert: truthy(s.upsert),
      arrayFilters: s.arrayFilters as Document[] | undefined,
      sort: sortSpec(s.sort as Document | undefined),
      hint: s.hint,
      options: { ...evalOptions(cmd, s), let: letWith(cmd.let as Document | undefined, s.c as Document | undefined) },
      bypass,
    });
    n += outcome.n;
    nModified += outcome.nModified;
    if (outcome.upsertedId !== undefined) upserted.push({ index, _id: outcome.upsertedId });
  });
  return { n, nModified, ...(upserted.length > 0 ? { upserted } : {}), ...writeErrors(errors) };
}

/** `let` variables, plus a statement's constants (`c`). */
function letWith(vars: Document | undefined, constants: Document | undefined): Document | undefined {
  return constants ? { ...vars, ...constants } : vars;
}

function del(ctx: CommandContext, cmd: Document): Document {
  const ns = { db: ctx.db, coll: collectionName(cmd, ctx.db) };
  checkFields(cmd, 'delete', { ...WRITE_FIELDS, deletes: 'array', let: 'object' }, { command: true, required: ['deletes'] });
  const statements = cmd.deletes as unknown[];
  checkBatch(statements.length);
  for (const s of statements) {
    if (!isDocument(s)) throw wrongType('delete.deletes', 'object', s);
    checkFields(s, 'delete.deletes', { q: 'object', limit: 'int64', hint: 'hint', collation: 'object', sampleId: 'any' }, { required: ['q', 'limit'] });
    const limit = toNumber(s.limit);
    if (limit !== 0 && limit !== 1) {
      throw new CommandError('FailedToParse', `The limit field in delete objects must be 0 or 1. Got ${limit}`);
    }
  }
  let n = 0;
  const errors = runStatements(ctx, cmd.ordered !== false, statements as Document[], (s) => {
    n += runDelete(ctx, ns, s.q as Document, toNumber(s.limit) === 0, s.hint, evalOptions(cmd, s)).length;
  });
  return { n, ...writeErrors(errors) };
}

function findAndModify(ctx: CommandContext, cmd: Document): Document {
  const ns = { db: ctx.db, coll: collectionName(cmd, ctx.db) };
  checkFields(cmd, 'findAndModify', {
    query: 'object', fields: 'object', sort: 'object', hint: 'hint', collation: 'object', arrayFilters: 'array',
    remove: 'boolish', update: 'update', new: 'boolish', upsert: 'boolish', bypassDocumentValidation: 'boolish',
    let: 'object', stmtId: 'any', encryptionInformation: 'object', isTimeseriesNamespace: 'bool', sampleId: 'any',
  }, { command: true });
  const remove = truthy(cmd.remove);
  const returnNew = truthy(cmd.new);
  const upsert = truthy(cmd.upsert);
  if (remove && cmd.update !== undefined) throw new CommandError('FailedToParse', 'Cannot specify both an update and remove=true');
  if (!remove && cmd.update === undefined) throw new CommandError('FailedToParse', 'Either an update or remove=true must be specified');
  if (remove && upsert) throw new CommandError('FailedToParse', 'Cannot specify both upsert=true and remove=true ');
  if (remove && returnNew) {
    throw new CommandError('FailedToParse', "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document");
  }
  if (remove && cmd.arrayFilters) throw new CommandError('FailedToParse', 'Cannot specify arrayFilters and remove=true');
  const filter = (cmd.query ?? {}) as Document;
  const options = evalOptions(cmd);
  const fields = cmd.fields as Document | undefined;
  const shape = (doc: Document | undefined): Document | null =>
    doc === undefined ? null : fields ? project([doc], fields, filter, options)[0] : doc;
  if (remove) {
    const data = ctx.view.collection(ns.db, ns.coll);
    checkHint(data, cmd.hint);
    const [doc] = select(candidates(data, filter), filter, { ...options, sort: sortSpec(cmd.sort as Document | undefined), limit: 1 });
    if (doc) ctx.view.write({ op: 'delete', db: ns.db, coll: ns.coll, before: doc });
    return { lastErrorObject: { n: doc ? 1 : 0 }, value: shape(doc) };
  }
  const outcome = runUpdate(ctx, ns, {
    filter,
    u: cmd.update as Document,
    multi: false,
    upsert,
    arrayFilters: cmd.arrayFilters as Document[] | undefined,
    sort: sortSpec(cmd.sort as Document | undefined),
    hint: cmd.hint,
    options,
    bypass: truthy(cmd.bypassDocumentValidation),
  });
  const lastErrorObject: Document = { n: outcome.n, updatedExisting: outcome.before !== undefined };
  if (outcome.upsertedId !== undefined) lastErrorObject.upserted = outcome.upsertedId;
  return { lastErrorObject, value: shape(returnNew ? outcome.after : outcome.before) };
}

// ---------------------------------------------------------------- reads

const FIND_FIELDS: Record<string, FieldType> = {
  filter: 'object', projection: 'object', sort: 'object', hint: 'hint', skip: 'int64', limit: 'int64',
  batchSize: 'int64', singleBatch: 'bool', max: 'object', min: 'object', returnKey: 'bool', showRecordId: 'bool',
  tailable: 'bool', oplogReplay: 'bool', noCursorTimeout: 'bool', awaitData: 'bool', allowPartialResults: 'bool',
  collation: 'object', allowDiskUse: 'bool', let: 'object', readOnce: 'bool', allowSpeculativeMajorityRead: 'bool',
  $_requestResumeToken: 'bool', $_resumeAfter: 'object', $_startAt: 'object', term: 'int64',
  includeQueryStatsMetrics: 'bool', encryptionInformation: 'object', sampleId: 'any', ntoreturn: 'int64',
};

function find(ctx: CommandContext, cmd: Document): Promise<Document> {
  const ns = { db: ctx.db, coll: collectionName(cmd, ctx.db) };
  checkFields(cmd, 'find', FIND_FIELDS, { command: true });
  const skip = nonNegative('skip', cmd.skip);
  const limit = nonNegative('limit', cmd.limit);
  const batchSize = nonNegative('batchSize', cmd.batchSize);
  const data = ctx.view.collection(ns.db, ns.coll);
  if (cmd.tailable) {
    if (data?.options.capped) throw new CommandError('CommandNotSupported', 'the wire test server does not support tailable cursors');
    throw new CommandError('BadValue', `error processing query: ns=${ns.db}.${ns.coll} tailable cursor requested on non capped collection`);
  }
  for (const option of ['min', 'max', 'returnKey', 'showRecordId'] as const) {
    if (cmd[option]) throw new CommandError('CommandNotSupported', `the wire test server does not support find's '${option}'`);
  }
  checkHint(data, cmd.hint);
  const filter = (cmd.filter ?? {}) as Document;
  const options = evalOptions(cmd);
  let docs = select(candidates(data, filter), filter, { ...options, sort: sortSpec(cmd.sort as Document | undefined), skip, limit });
  if (cmd.projection) docs = project(docs, cmd.projection as Document, filter, options);
  const source = new ArraySource(docs);
  return ctx.member.cursors.first(`${ns.db}.${ns.coll}`, cmd.singleBatch ? singleBatch(source) : source, batchSize, cmd.lsid as Document | undefined);
}

function count(ctx: CommandContext, cmd: Document): Document {
  const ns = { db: ctx.db, coll: collectionName(cmd, ctx.db) };
  checkFields(cmd, 'count', {
    query: 'object', limit: 'int64', skip: 'int64', hint: 'hint', collation: 'object', fields: 'object',
    encryptionInformation: 'object', mirrored: 'bool', sampleId: 'any',
  }, { command: true });
  const skip = nonNegative('skip', cmd.skip) ?? 0;
  const limit = Math.abs(toNumber(cmd.limit) ?? 0);
  const data = ctx.view.collection(ns.db, ns.coll);
  checkHint(data, cmd.hint);
  const filter = (cmd.query ?? {}) as Document;
  const matched = select(candidates(data, filter), filter, evalOptions(cmd)).length;
  const n = Math.max(0, matched - skip);
  return { n: limit > 0 ? Math.min(n, limit) : n };
}

function distinct(ctx: CommandContext, cmd: Document): Document {
  const ns = { db: ctx.db, coll: collectionName(cmd, ctx.db) };
  checkFields(cmd, 'distinct', {
    key: 'string', query: 'object', collation: 'object', hint: 'hint', mirrored: 'bool', sampleId: 'any',
  }, { command: true, required: ['key'] });
  const key = cmd.key as string;
  if (key.length === 0) throw new CommandError('BadValue', 'FieldPath cannot be constructed with empty string');
  const data = ctx.view.collection(ns.db, ns.coll);
  checkHint(data, cmd.hint);
  const filter = (cmd.query ?? {}) as Document;
  const values: unknown[] = [];
  for (const doc of select(candidates(data, filter), filter, evalOptions(cmd))) {
    const value = resolve(doc, key);
    if (value === undefined) continue;
    // An array contributes its elements (one level, as mongod's distinct does).
    if (Array.isArray(value)) values.push(...value.flat(1));
    else values.push(value);
  }
  return { values: distinctValues(values) };
}

// ---------------------------------------------------------------- aggregate

const AGGREGATE_FIELDS: Record<string, FieldType> = {
  pipeline: 'array', explain: 'bool', allowDiskUse: 'bool', cursor: 'object', bypassDocumentValidation: 'boolish',
  collation: 'object', hint: 'hint', let: 'object', fromMongos: 'bool', fromRouter: 'bool', needsMerge: 'bool',
  $_generateV2ResumeTokens: 'bool', isMapReduceCommand: 'bool', collectionUUID: 'any', exchange: 'object',
  runtimeConstants: 'object', encryptionInformation: 'object', $_requestReshardingResumeToken: 'bool',
  $_isClusterQueryWithoutShardKeyCmd: 'bool', includeQueryStatsMetrics: 'bool', passthroughToShard: 'object',
};

/** Stages that produce their own input, allowed with `{aggregate: 1}`. */
const COLLECTIONLESS = new Set(['$documents', '$currentOp', '$changeStream', '$listLocalSessions', '$queue']);

async function aggregate(ctx: CommandContext, cmd: Document): Promise<Document> {
  const target = cmd.aggregate;
  let coll: string | undefined;
  if (typeof target === 'string') {
    coll = collectionName(cmd, ctx.db);
  } else if (typeof target === 'number') {
    if (target !== 1) throw new CommandError('BadValue', "Invalid command format: the 'aggregate' field must specify a collection name or 1");
  } else {
    collectionName(cmd, ctx.db);
  }
  checkFields(cmd, 'aggregate', AGGREGATE_FIELDS, { command: true, required: ['pipeline'] });
  const pipeline = cmd.pipeline as unknown[];
  pipeline.forEach((stage) => {
    if (!isDocument(stage) || Object.keys(stage).length !== 1) {
      throw new CommandError('Location40323', 'A pipeline stage specification object must contain exactly one field.');
    }
  });
  const stages = pipeline as Document[];
  const names = stages.map((s) => Object.keys(s)[0]);
  if (names[0] === '$changeStream') return openChangeStream(ctx, cmd);
  if (names.indexOf('$changeStream') > 0) {
    throw new CommandError('Location40602', '$changeStream is only valid as the first stage in a pipeline');
  }
  if (cmd.explain) throw new CommandError('CommandNotSupported', 'the wire test server does not support explain');
  if (cmd.cursor === undefined) {
    throw new CommandError('FailedToParse', "The 'cursor' option is required, except for aggregate with the explain argument");
  }
  const batchSize = cursorBatchSize(cmd, 'aggregate');
  for (const [i, name] of names.entries()) {
    if ((name === '$out' || name === '$merge') && i !== names.length - 1) {
      throw new CommandError('Location40601', `${name} can only be the final stage in the pipeline`);
    }
  }
  if (coll === undefined && !COLLECTIONLESS.has(names[0])) {
    throw new CommandError('InvalidNamespace', `{aggregate: 1} is not valid for '${names[0] ?? ''}'; a collection is required.`);
  }
  const options = { ...evalOptions(cmd), collection: (name: string) => documents(ctx, { db: ctx.db, coll: name }) };
  let input: Document[] = coll === undefined ? [] : documents(ctx, { db: ctx.db, coll });
  let rest = stages;
  if (names[0] === '$currentOp') {
    input = currentOp(ctx, cmd, stages[0].$currentOp);
    rest = stages.slice(1);
  }
  const last = names[names.length - 1];
  const output = last === '$out' || last === '$merge' ? rest.slice(0, -1) : rest;
  const docs = runPipeline(input, output, options);
  if (last === '$out') {
    writeOut(ctx, stages[stages.length - 1].$out, docs, truthy(cmd.bypassDocumentValidation));
    return ctx.member.cursors.first(`${ctx.db}.${coll ?? '$cmd.aggregate'}`, new ArraySource([]), batchSize, cmd.lsid as Document | undefined);
  }
  if (last === '$merge') {
    writeMerge(ctx, stages[stages.length - 1].$merge, docs, truthy(cmd.bypassDocumentValidation));
    return ctx.member.cursors.first(`${ctx.db}.${coll ?? '$cmd.aggregate'}`, new ArraySource([]), batchSize, cmd.lsid as Document | undefined);
  }
  return ctx.member.cursors.first(`${ctx.db}.${coll ?? '$cmd.aggregate'}`, new ArraySource(docs), batchSize, cmd.lsid as Document | undefined);
}

/** An aggregation that writes must run on the primary and outside transactions. */
function checkWritingAggregate(ctx: CommandContext, stage: string): void {
  if (ctx.transaction) throw new CommandError('OperationNotSupportedInTransaction', `${stage} cannot be used in a transaction`);
  if (ctx.member.role !== 'primary' && ctx.member.role !== 'mongos') throw new CommandError('NotWritablePrimary', 'not primary');
}

function outputNamespace(ctx: CommandContext, stage: string, spec: unknown): Namespace {
  if (typeof spec === 'string') {
    checkCollection(ctx.db, spec);
    return { db: ctx.db, coll: spec };
  }
  if (isDocument(spec) && typeof spec.coll === 'string') {
    return splitNamespace(`${typeof spec.db === 'string' ? spec.db : ctx.db}.${spec.coll}`);
  }
  throw new CommandError('FailedToParse', `${stage} stage requires a string or object argument naming the output collection`);
}

/** Documents about to replace or join a collection, with `_id`s, checked against its unique indexes first. */
function outputDocuments(ctx: CommandContext, ns: Namespace, docs: Document[]): Document[] {
  const out = docs.map(idFirst);
  const probe = new CollectionData(new UUID(), {});
  const existing = ctx.view.collection(ns.db, ns.coll);
  for (const index of existing?.indexes ?? []) if (index.name !== '_id_') probe.addIndex(`${ns.db}.${ns.coll}`, index);
  for (const doc of out) {
    checkId(doc);
    if (probe.get(doc._id)) {
      throw new CommandError('DuplicateKey', `E11000 duplicate key error collection: ${ns.db}.${ns.coll} index: _id_ dup key: { _id: ${JSON.stringify(doc._id)} }`, {
        extra: { keyPattern: { _id: 1 }, keyValue: { _id: doc._id } },
      });
    }
    probe.put(`${ns.db}.${ns.coll}`, doc);
  }
  return out;
}

/** `$out`: the results replace the target collection's documents (its indexes stay). */
function writeOut(ctx: CommandContext, spec: unknown, docs: Document[], bypass: boolean): void {
  checkWritingAggregate(ctx, '$out');
  const ns = outputNamespace(ctx, '$out', spec);
  const out = outputDocuments(ctx, ns, docs);
  for (const before of documents(ctx, ns)) ctx.view.write({ op: 'delete', db: ns.db, coll: ns.coll, before });
  for (const doc of out) insertDocument(ctx, ns, doc, bypass);
  ctx.store.ensureCollection(ns.db, ns.coll);
}

const MERGE_MATCHED = new Set(['replace', 'keepExisting', 'merge', 'fail']);
const MERGE_NOT_MATCHED = new Set(['insert', 'discard', 'fail']);

/** `$merge` on `_id` with the named whenMatched/whenNotMatched modes. */
function writeMerge(ctx: CommandContext, spec: unknown, docs: Document[], bypass: boolean): void {
  checkWritingAggregate(ctx, '$merge');
  const options = (typeof spec === 'string' ? { into: spec } : spec) as Document;
  if (!isDocument(options)) throw new CommandError('FailedToParse', '$merge requires a string or object argument');
  checkFields(options, '$merge', { into: 'any', on: 'any', let: 'object', whenMatched: 'any', whenNotMatched: 'string' }, { required: ['into'] });
  const ns = outputNamespace(ctx, '$merge', options.into);
  const on = options.on ?? '_id';
  if (on !== '_id' && !(Array.isArray(on) && on.length === 1 && on[0] === '_id')) {
    throw new CommandError('CommandNotSupported', "the wire test server supports $merge only with on: '_id'");
  }
  const whenMatched = options.whenMatched ?? 'merge';
  const whenNotMatched = options.whenNotMatched ?? 'insert';
  if (typeof whenMatched !== 'string' || !MERGE_MATCHED.has(whenMatched)) {
    throw new CommandError('CommandNotSupported', `the wire test server does not support $merge whenMatched: ${JSON.stringify(whenMatched)}`);
  }
  if (!MERGE_NOT_MATCHED.has(whenNotMatched as string)) {
    throw new CommandError('BadValue', `Enumeration value '${String(whenNotMatched)}' for field '$merge.whenNotMatched' is not a valid value.`);
  }
  for (const raw of docs) {
    const doc = idFirst(raw);
    const existing = ctx.view.collection(ns.db, ns.coll)?.get(doc._id);
    if (!existing) {
      if (whenNotMatched === 'discard') continue;
      if (whenNotMatched === 'fail') {
        throw new CommandError('Location13113', "$merge could not find a matching document in the target collection for at least one document in the source collection");
      }
      insertDocument(ctx, ns, doc, bypass);
      continue;
    }
    if (whenMatched === 'keepExisting') continue;
    if (whenMatched === 'fail') {
      throw new CommandError('DuplicateKey', `E11000 duplicate key error collection: ${ns.db}.${ns.coll} index: _id_ dup key: { _id: ${JSON.stringify(doc._id)} }`, {
        extra: { keyPattern: { _id: 1 }, keyValue: { _id: doc._id } },
      });
    }
    const after = whenMatched === 'replace' ? doc : { ...existing, ...doc };
    if (idKey(after) === idKey(existing)) continue;
    checkValidation(ctx, ns, after, existing, bypass);
    ctx.view.write({ op: whenMatched === 'replace' ? 'replace' : 'update', db: ns.db, coll: ns.coll, before: existing, after });
  }
}

const CURRENT_OP_OPTIONS: Record<string, FieldType> = {
  allUsers: 'bool', idleConnections: 'bool', idleCursors: 'bool', idleSessions: 'bool', localOps: 'bool',
  backtrace: 'bool', truncateOps: 'bool', targetAllNodes: 'bool',
};

/**
 * `$currentOp` as this member sees it: the aggregate itself and, with
 * `idleCursors: true`, the cursors open on the member.
 */
function currentOp(ctx: CommandContext, cmd: Document, spec: unknown): Document[] {
  if (ctx.db !== 'admin' || cmd.aggregate !== 1) {
    throw new CommandError('InvalidNamespace', "$currentOp must be run against the 'admin' database with {aggregate: 1}");
  }
  if (!isDocument(spec)) throw new CommandError('FailedToParse', '$currentOp options must be specified in an object, but found: ' + typeof spec);
  checkFields(spec, '$currentOp', CURRENT_OP_OPTIONS);
  const host = ctx.member.address;
  const { lsid, $db, $clusterTime, $readPreference, ...command } = cmd;
  const ops: Document[] = [{
    type: 'op',
    host,
    desc: `conn${ctx.connection.id}`,
    connectionId: ctx.connection.id,
    ...(ctx.connection.appName ? { appName: ctx.connection.appName } : {}),
    active: true,
    currentOpTime: new Date().toISOString(),
    op: 'command',
    ns: 'admin.$cmd.aggregate',
    command: { ...command, $db },
    ...(lsid ? { lsid } : {}),
  }];
  if (spec.idleCursors === true) {
    for (const cursor of ctx.member.cursors.list()) {
      ops.push({
        type: 'idleCursor',
        host,
        ns: cursor.ns,
        ...(cursor.lsid ? { lsid: cursor.lsid } : {}),
        cursor: { cursorId: cursor.id, createdDate: cursor.createdDate, lastAccessDate: cursor.createdDate },
      });
    }
  }
  return ops;
}

// ---------------------------------------------------------------- bulkWrite

const BULK_OPS: Record<string, { fields: Record<string, FieldType>; required: string[] }> = {
  insert: { fields: { insert: 'int64', document: 'object' }, required: ['document'] },
  update: {
    fields: {
      update: 'int64', filter: 'object', multi: 'boolish', updateMods: 'update', upsert: 'boolish', arrayFilters: 'array',
      collation: 'object', hint: 'hint', sort: 'object', constants: 'object', upsertSupplied: 'boolish', sampleId: 'any',
    },
    required: ['filter', 'updateMods'],
  },
  delete: { fields: { delete: 'int64', filter: 'object', multi: 'boolish', hint: 'hint', collation: 'object', sampleId: 'any' }, required: ['filter'] },
};

/**
 * The server 8.0 admin `bulkWrite` (the driver's `MongoClient.bulkWrite`):
 * operations on any namespaces, results in a cursor.
 */
function bulkWrite(ctx: CommandContext, cmd: Document): Promise<Document> {
  checkFields(cmd, 'bulkWrite', {
    ops: 'array', nsInfo: 'array', cursor: 'object', bypassDocumentValidation: 'boolish', ordered: 'bool',
    errorsOnly: 'bool', let: 'object', stmtIds: 'array',
  }, { command: true, required: ['ops', 'nsInfo'] });
  const batchSize = cursorBatchSize(cmd, 'bulkWrite');
  const nsInfo = (cmd.nsInfo as unknown[]).map((entry) => {
    if (!isDocument(entry)) throw wrongType('bulkWrite.nsInfo', 'object', entry);
    checkFields(entry, 'bulkWrite.nsInfo', {
      ns: 'string', collectionUUID: 'any', encryptionInformation: 'object', isTimeseriesNamespace: 'bool',
      shardVersion: 'any', databaseVersion: 'any',
    }, { required: ['ns'] });
    return splitNamespace(entry.ns as string);
  });
  const ops = cmd.ops as unknown[];
  checkBatch(ops.length);
  const parsed = ops.map((op, idx) => {
    if (!isDocument(op)) throw wrongType('bulkWrite.ops', 'object', op);
    const kind = Object.keys(op)[0];
    const shape = BULK_OPS[kind];
    if (!shape) throw new CommandError('FailedToParse', `Unrecognized bulkWrite operation: ${kind}`);
    checkFields(op, 'bulkWrite.ops', shape.fields, { required: shape.required });
    const index = toNumber(op[kind]);
    if (index === undefined || !Number.isInteger(index) || index < 0 || index >= nsInfo.length) {
      throw new CommandError('BadValue', `BulkWrite ops entry ${idx} has an invalid nsInfo index.`);
    }
    return { kind, op, ns: nsInfo[index] };
  });
  const counts = { nErrors: 0, nInserted: 0, nMatched: 0, nModified: 0, nUpserted: 0, nDeleted: 0 };
  const results: Document[] = [];
  const bypass = truthy(cmd.bypassDocumentValidation);
  const errors = runStatements(ctx, cmd.ordered !== false, parsed, ({ kind, op, ns }, idx) => {
    if (kind === 'insert') {
      insertDocument(ctx, ns, op.document as Document, bypass);
      counts.nInserted += 1;
      results.push({ ok: 1, idx, n: 1 });
    } else if (kind === 'update') {
      const outcome = runUpdate(ctx, ns, {
        filter: op.filter as Document,
        u: op.updateMods as Document,
        multi: truthy(op.multi),
        upsert: truthy(op.upsert),
        arrayFilters: op.arrayFilters as Document[] | undefined,
        sort: sortSpec(op.sort as Document | undefined),
        hint: op.hint,
        options: { let: letWith(cmd.let as Document | undefined, op.constants as Document | undefined), collation: op.collation as Document | undefined },
        bypass,
      });
      const item: Document = { ok: 1, idx, n: outcome.n, nModified: outcome.nModified };
      if (outcome.upsertedId !== undefined) {
        item.upserted = { index: 0, _id: outcome.upsertedId };
        counts.nUpserted += 1;
      } else {
        counts.nMatched += outcome.n;
      }
      counts.nModified += outcome.nModified;
      results.push(item);
    } else {
      const n = runDelete(ctx, ns, op.filter as Document, truthy(op.multi), op.hint, { let: cmd.let as Document | undefined, collation: op.collation as Document | undefined }).length;
      counts.nDeleted += n;
      results.push({ ok: 1, idx, n });
    }
  });
  for (const { index, error } of errors) {
    results.push({ ok: 0, idx: index, code: error.code, codeName: error.codeName, errmsg: error.message, ...error.extra });
  }
  counts.nErrors = errors.length;
  results.sort((a, b) => (a.idx as number) - (b.idx as number));
  const items = cmd.errorsOnly === true ? results.filter((r) => r.ok === 0) : results;
  return ctx.member.cursors
    .first('admin.$cmd.bulkWrite', new ArraySource(items), batchSize, cmd.lsid as Document | undefined)
    .then((reply) => ({ ...reply, ...counts }));
}

export const CRUD_COMMANDS: CommandSpec[] = [
  { name: 'insert', write: true, inTransaction: true, run: insert },
  { name: 'update', write: true, inTransaction: true, run: update },
  { name: 'delete', write: true, inTransaction: true, run: del },
  { name: 'findAndModify', aliases: ['findandmodify'], write: true, inTransaction: true, run: findAndModify },
  { name: 'find', read: true, inTransaction: true, run: find },
  { name: 'count', read: true, run: count },
  { name: 'distinct', read: true, inTransaction: true, run: distinct },
  { name: 'aggregate', read: true, inTransaction: true, run: aggregate },
  { name: 'bulkWrite', adminOnly: true, write: true, inTransaction: true, run: bulkWrite },
];
