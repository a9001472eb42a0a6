/**
 * `aggregate`: pipelines through mingo, change streams (handed to
 * spec/server/change-streams), `$currentOp`, and the writing stages `$out`
 * and `$merge`.
 */
import { UUID, type Document } from 'bson';
import { openChangeStream } from '../change-streams';
import { ArraySource, openedBy } from '../cursors';
import { CommandError } from '../errors';
import { topLevelTargets } from '../update-description';
import { runPipeline } from '../query';
import { CollectionData, sameValue } from '../store';
import { idFirst } from '../update';
import { checkCollection, checkFields, collectionName, cursorBatchSize, splitNamespace, truthy, type FieldType } from './args';
import type { CommandContext, CommandSpec } from './types';
import { checkId, checkValidation, documents, evalOptions, insertDocument, isDocument, readDocuments, type Namespace } from './statements';
import { resolveView } from '../views';
import { currentOp } from './current-op';
import { explainAggregate } from './explain';
import { listLocalSessions, listSessions } from './session-listing';

const AGGREGATE_FIELDS: Record<string, FieldType> = {
  pipeline: 'array', explain: 'bool', allowDiskUse: 'bool', cursor: 'object', bypassDocumentValidation: 'boolish',
  collation: 'object', hint: 'hint', let: 'object', fromMongos: 'bool', fromRouter: 'bool', needsMerge: 'bool',
  $_generateV2ResumeTokens: 'bool', isMapReduceCommand: 'bool', collectionUUID: 'any', exchange: 'object',
  runtimeConstants: 'object', encryptionInformation: 'object', $_requestReshardingResumeToken: 'bool',
  $_isClusterQueryWithoutShardKeyCmd: 'bool', includeQueryStatsMetrics: 'bool', passthroughToShard: 'object',
};

/** First stages that produce the pipeline's input from the server's state. */
const SOURCE_STAGES: Record<string, (ctx: CommandContext, cmd: Document, spec: unknown) => Document[]> = {
  $currentOp: currentOp,
  $listLocalSessions: listLocalSessions,
  $listSessions: listSessions,
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
  if (cmd.explain) return explainAggregate(ctx, cmd, 'queryPlanner');
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
  const view = coll === undefined ? undefined : resolveView(ctx.store, ctx.db, coll);
  const options = {
    ...evalOptions(cmd),
    ...(view?.collation && !cmd.collation ? { collation: view.collation } : {}),
    collection: (name: string) => readDocuments(ctx, { db: ctx.db, coll: name }),
  };
  let input: Document[] = coll === undefined ? [] : documents(ctx, { db: ctx.db, coll: view?.coll ?? coll });
  // A view's pipeline runs before the aggregation's own stages.
  let rest = view ? [...view.pipeline, ...stages] : stages;
  const source = SOURCE_STAGES[names[0]];
  if (source) {
    input = source(ctx, cmd, stages[0][names[0]]);
    rest = stages.slice(1);
  }
  const last = names[names.length - 1];
  const output = last === '$out' || last === '$merge' ? rest.slice(0, -1) : rest;
  const docs = runPipeline(input, output, options);
  if (last === '$out') {
    writeOut(ctx, stages[stages.length - 1].$out, docs, truthy(cmd.bypassDocumentValidation));
    return ctx.member.cursors.first(`${ctx.db}.${coll ?? '$cmd.aggregate'}`, new ArraySource([]), batchSize, openedBy(cmd));
  }
  if (last === '$merge') {
    writeMerge(ctx, stages[stages.length - 1].$merge, docs, truthy(cmd.bypassDocumentValidation));
    return ctx.member.cursors.first(`${ctx.db}.${coll ?? '$cmd.aggregate'}`, new ArraySource([]), batchSize, openedBy(cmd));
  }
  return ctx.member.cursors.first(`${ctx.db}.${coll ?? '$cmd.aggregate'}`, new ArraySource(docs), batchSize, openedBy(cmd));
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
    if (sameValue(after, existing)) continue;
    checkValidation(ctx, ns, after, existing, bypass);
    const op = whenMatched === 'replace' ? 'replace' : 'update';
    ctx.view.write({ op, db: ns.db, coll: ns.coll, before: existing, after, targets: topLevelTargets(doc) });
  }
}

export const AGGREGATE_COMMANDS: CommandSpec[] = [{ name: 'aggregate', read: true, snapshotReads: true, inTransaction: true, run: aggregate }];
