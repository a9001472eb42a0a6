/**
 * The write commands: insert, update, delete and findAndModify. Every
 * document write goes through `ctx.view.write`, so transactions and change
 * streams see it.
 */
import type { Document } from 'bson';
import { CommandError } from '../errors';
import { project, select, sortSpec } from '../query';
import { checkFields, collectionName, toNumber, truthy, wrongType, type FieldType } from './args';
import type { CommandContext, CommandSpec } from './types';
import { refuseView } from '../views';
import { candidates, checkBatch, checkHint, evalOptions, insertDocument, isDocument, letWith, retryableStatement, runDelete, runStatements, runUpdate, writeErrors, WRITE_FIELDS } from './statements';

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
    return 1;
  }, (inserted) => (n += inserted));
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
  const errors = runStatements(ctx, cmd.ordered !== false, statements as Document[], (s) => {
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
    return { n: outcome.n, nModified: outcome.nModified, upsertedId: outcome.upsertedId };
  }, (outcome, index) => {
    n += outcome.n;
    nModified += outcome.nModified;
    if (outcome.upsertedId !== undefined) upserted.push({ index, _id: outcome.upsertedId });
  });
  return { n, nModified, ...(upserted.length > 0 ? { upserted } : {}), ...writeErrors(errors) };
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
  const errors = runStatements(
    ctx,
    cmd.ordered !== false,
    statements as Document[],
    (s) => runDelete(ctx, ns, s.q as Document, toNumber(s.limit) === 0, s.hint, evalOptions(cmd, s)).length,
    (deleted) => (n += deleted),
  );
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
  return retryableStatement(ctx, () => (remove ? removeOne() : updateOne()));

  function removeOne(): Document {
    refuseView(ctx.store, ns.db, ns.coll);
    const data = ctx.view.collection(ns.db, ns.coll);
    checkHint(data, cmd.hint);
    const [doc] = select(candidates(data, filter), filter, { ...options, sort: sortSpec(cmd.sort as Document | undefined), limit: 1 });
    if (doc) ctx.view.write({ op: 'delete', db: ns.db, coll: ns.coll, before: doc });
    return { lastErrorObject: { n: doc ? 1 : 0 }, value: shape(doc) };
  }

  function updateOne(): Document {
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
}

export const WRITE_COMMANDS: CommandSpec[] = [
  { name: 'insert', write: true, retryable: true, inTransaction: true, run: insert },
  { name: 'update', write: true, retryable: true, inTransaction: true, run: update },
  { name: 'delete', write: true, retryable: true, inTransaction: true, run: del },
  { name: 'findAndModify', aliases: ['findandmodify'], write: true, retryable: true, inTransaction: true, run: findAndModify },
];
