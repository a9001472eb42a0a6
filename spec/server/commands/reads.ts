/**
 * The query commands: find, count and distinct, evaluated by mingo
 * (spec/server/query.ts) over what `ctx.view` shows.
 */
import type { Document } from 'bson';
import { resolve } from 'mingo/util';
import { ArraySource, openedBy } from '../cursors';
import { CommandError } from '../errors';
import { distinctValues, project, select, sortSpec } from '../query';
import { checkFields, collectionName, nonNegative, toNumber, type FieldType } from './args';
import type { CommandContext, CommandSpec } from './types';
import { candidates, checkHint, evalOptions, singleBatch, throughView } from './statements';
import { TailableSource } from '../tailable';
import { resolveView } from '../views';

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
  if (cmd.awaitData && !cmd.tailable) throw new CommandError('FailedToParse', "Cannot set 'awaitData' without also setting 'tailable'");
  if (cmd.tailable) return tailableFind(ctx, cmd, ns, batchSize);
  for (const option of ['min', 'max', 'returnKey', 'showRecordId'] as const) {
    if (cmd[option]) throw new CommandError('CommandNotSupported', `the wire test server does not support find's '${option}'`);
  }
  checkHint(data, cmd.hint);
  const filter = (cmd.filter ?? {}) as Document;
  const options = evalOptions(cmd);
  const sort = sortSpec(cmd.sort as Document | undefined);
  const view = resolveView(ctx.store, ns.db, ns.coll);
  let docs: Document[];
  if (view) {
    // mongod runs a find on a view as an aggregation.
    const stages = [...matchStage(filter), ...(sort ? [{ $sort: sort }] : []), ...(skip ? [{ $skip: skip }] : []),
      ...(limit ? [{ $limit: limit }] : []), ...(cmd.projection ? [{ $project: cmd.projection }] : [])];
    docs = throughView(ctx, ns.db, view, stages, options);
  } else {
    docs = select(candidates(data, filter), filter, { ...options, sort, skip, limit });
    if (cmd.projection) docs = project(docs, cmd.projection as Document, filter, options);
  }
  const source = new ArraySource(docs);
  return ctx.member.cursors.first(`${ns.db}.${ns.coll}`, cmd.singleBatch ? singleBatch(source) : source, batchSize, openedBy(cmd));
}

/** A tailable find on a capped collection (tailable.ts). */
function tailableFind(ctx: CommandContext, cmd: Document, ns: { db: string; coll: string }, batchSize: number | undefined): Promise<Document> {
  const data = ctx.view.collection(ns.db, ns.coll);
  if (!data?.options.capped) {
    throw new CommandError('BadValue', `error processing query: ns=${ns.db}.${ns.coll} tailable cursor requested on non capped collection`);
  }
  const sort = cmd.sort as Document | undefined;
  if (sort && Object.keys(sort).length > 0 && !(Object.keys(sort).length === 1 && sort.$natural === 1)) {
    throw new CommandError('BadValue', 'cannot use tailable option with a sort other than {$natural: 1}');
  }
  if (cmd.singleBatch) throw new CommandError('BadValue', 'cannot use tailable option with the singleBatch option');
  if (ctx.transaction) throw new CommandError('OperationNotSupportedInTransaction', 'tailable cursors are not allowed in a transaction');
  const source = new TailableSource(ctx.store, ns.db, ns.coll, {
    filter: (cmd.filter ?? {}) as Document,
    projection: cmd.projection as Document | undefined,
    options: evalOptions(cmd),
    awaitData: cmd.awaitData === true,
  });
  return ctx.member.cursors.first(`${ns.db}.${ns.coll}`, source, batchSize, openedBy(cmd));
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
  const view = resolveView(ctx.store, ns.db, ns.coll);
  const matched = view
    ? throughView(ctx, ns.db, view, matchStage(filter), evalOptions(cmd)).length
    : select(candidates(data, filter), filter, evalOptions(cmd)).length;
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
  const view = resolveView(ctx.store, ns.db, ns.coll);
  const matched = view
    ? throughView(ctx, ns.db, view, matchStage(filter), evalOptions(cmd))
    : select(candidates(data, filter), filter, evalOptions(cmd));
  for (const doc of matched) {
    const value = resolve(doc, key);
    if (value === undefined) continue;
    // An array contributes its elements (one level, as mongod's distinct does).
    if (Array.isArray(value)) values.push(...value.flat(1));
    else values.push(value);
  }
  return { values: distinctValues(values) };
}

/** A filter as a `$match` stage, none for an empty one. */
function matchStage(filter: Document): Document[] {
  return Object.keys(filter).length > 0 ? [{ $match: filter }] : [];
}

export const READ_COMMANDS: CommandSpec[] = [
  { name: 'find', read: true, snapshotReads: true, inTransaction: true, run: find },
  { name: 'count', read: true, run: count },
  { name: 'distinct', read: true, snapshotReads: true, inTransaction: true, run: distinct },
];
