/**
 * Index commands: listing, building and dropping indexes. A unique index is
 * built at once and fails on existing duplicates; in a transaction (4.4+)
 * indexes may only be built on a collection the transaction created.
 */
import type { Document } from 'bson';
import { CommandError } from '../errors';
import { ArraySource, openedBy } from '../cursors';
import { sameValue, type IndexSpec } from '../store';
import { refuseView } from '../views';
import { checkFields, collectionName, cursorBatchSize, missingField, truthy, wrongType, type FieldType } from './args';
import type { CommandContext, CommandSpec } from './types';

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** An index as listIndexes and change events show it. */
function indexDoc(spec: IndexSpec): Document {
  const { key, name, v, clustered, ...options } = spec;
  // A clustered index is listed as unique and clustered, as mongod lists it.
  return clustered ? { v: 2, key, name, unique: true, clustered: true } : { v: v ?? 2, key, name, ...options };
}

function listIndexes(ctx: CommandContext, cmd: Document): Promise<Document> {
  const coll = collectionName(cmd, ctx.db);
  checkFields(cmd, 'listIndexes', {
    cursor: 'object', includeBuildUUIDs: 'boolish', includeIndexBuildInfo: 'boolish', collectionUUID: 'any', isTimeseriesNamespace: 'bool',
  }, { command: true });
  const batchSize = cursorBatchSize(cmd, 'listIndexes');
  refuseView(ctx.store, ctx.db, coll);
  const data = ctx.store.collection(ctx.db, coll);
  if (!data) throw new CommandError('NamespaceNotFound', `ns does not exist: ${ctx.db}.${coll}`);
  return ctx.member.cursors.first(
    `${ctx.db}.$cmd.listIndexes.${coll}`,
    new ArraySource(data.indexes.map(indexDoc)),
    batchSize,
    openedBy(cmd),
  );
}

const INDEX_FIELDS: Record<string, FieldType> = {
  key: 'object', name: 'string', unique: 'boolish', sparse: 'boolish', partialFilterExpression: 'object',
  expireAfterSeconds: 'int64', hidden: 'boolish', collation: 'object', v: 'int64', background: 'boolish', ns: 'string',
  weights: 'any', default_language: 'string', language_override: 'string', textIndexVersion: 'int64',
  '2dsphereIndexVersion': 'int64', bits: 'int64', min: 'any', max: 'any', wildcardProjection: 'object',
  storageEngine: 'object', prepareUnique: 'boolish',
};
const INDEX_PLUGINS = new Set(['text', '2d', '2dsphere', 'hashed', 'geoHaystack']);
/** Options that make two indexes on one key pattern different indexes. */
const INDEX_OPTIONS = ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'collation', 'hidden'];

function specText(spec: Document): string {
  return JSON.stringify(spec);
}

/** One requested index, validated as mongod validates an index specification. */
function indexSpec(raw: unknown): IndexSpec {
  if (!isDocument(raw)) throw wrongType('createIndexes.indexes', 'object', raw);
  for (const field of Object.keys(raw)) {
    if (!(field in INDEX_FIELDS)) {
      throw new CommandError('InvalidIndexSpecificationOption',
        `The field '${field}' is not valid for an index specification. Specification: ${specText(raw)}`);
    }
  }
  const fail = (message: string) =>
    new CommandError('FailedToParse', `Error in specification ${specText(raw)} :: caused by :: ${message}`);
  if (raw.key === undefined) throw fail("The 'key' field is a required property of an index specification");
  if (!isDocument(raw.key)) throw fail("The field 'key' must be an object, but got " + typeof raw.key);
  if (raw.name === undefined) throw fail("The 'name' field is a required property of an index specification");
  if (typeof raw.name !== 'string' || raw.name.length === 0) throw fail("The field 'name' must be a non-empty string");
  const key = raw.key as Document;
  if (Object.keys(key).length === 0) throw new CommandError('CannotCreateIndex', 'Index keys cannot be empty.');
  for (const [field, value] of Object.entries(key)) {
    if (typeof value === 'string') {
      if (!INDEX_PLUGINS.has(value)) throw new CommandError('CannotCreateIndex', `Unknown index plugin '${value}'`);
    } else if (typeof value !== 'number' || value === 0 || Number.isNaN(value)) {
      throw new CommandError('CannotCreateIndex',
        `Error in specification ${specText(raw)} :: caused by :: Values in the index key pattern can only be numbers > 0, numbers < 0, and strings. Found: ${field}: ${JSON.stringify(value)}`);
    }
  }
  if (raw.unique && (raw.sparse || raw.partialFilterExpression)) {
    throw new CommandError('CommandNotSupported', 'the wire test server does not enforce sparse or partial unique indexes');
  }
  const { ns: _ns, background: _background, ...spec } = raw;
  if (spec.unique !== undefined) spec.unique = truthy(spec.unique);
  return { v: 2, ...spec, key, name: raw.name } as IndexSpec;
}

function sameOptions(a: IndexSpec, b: IndexSpec): boolean {
  return INDEX_OPTIONS.every((o) => sameValue(a[o] ?? false, b[o] ?? false));
}

function createIndexes(ctx: CommandContext, cmd: Document): Document {
  const coll = collectionName(cmd, ctx.db);
  checkFields(cmd, 'createIndexes', {
    indexes: 'array', commitQuorum: 'any', ignoreUnknownIndexOptions: 'boolish', isTimeseriesNamespace: 'bool',
    collectionUUID: 'any', returnOnStart: 'boolish',
  }, { command: true, required: ['indexes'] });
  refuseView(ctx.store, ctx.db, coll);
  const requested = (cmd.indexes as unknown[]).map(indexSpec);
  if (requested.length === 0) throw new CommandError('BadValue', 'Must specify at least one index to create');
  const ns = `${ctx.db}.${coll}`;
  // In a transaction (4.4+) only on a collection it created, or one it creates now.
  const txn = ctx.transaction;
  const existing = txn ? txn.collection(ctx.db, coll) : ctx.store.collection(ctx.db, coll);
  if (txn && existing && !txn.createdHere(ctx.db, coll)) {
    throw new CommandError('OperationNotSupportedInTransaction', `Cannot create new indexes on existing collection ${ns} in a multi-document transaction.`);
  }
  const current = existing?.indexes ?? [{ name: '_id_', key: { _id: 1 } }];
  const toBuild: IndexSpec[] = [];
  for (const spec of requested) {
    const sameName = [...current, ...toBuild].find((i) => i.name === spec.name);
    const sameKey = [...current, ...toBuild].find((i) => sameValue(i.key, spec.key));
    if (sameName) {
      if (!sameValue(sameName.key, spec.key)) {
        throw new CommandError('IndexKeySpecsConflict',
          `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${specText(indexDoc(spec))}, existing index: ${specText(indexDoc(sameName))}`);
      }
      if (sameName.name !== '_id_' && !sameOptions(sameName, spec)) {
        throw new CommandError('IndexOptionsConflict',
          `An equivalent index already exists with the same name but different options. Requested index: ${specText(indexDoc(spec))}, existing index: ${specText(indexDoc(sameName))}`);
      }
      continue;
    }
    if (sameKey && sameOptions(sameKey, spec)) {
      throw new CommandError('IndexOptionsConflict', `Index already exists with a different name: ${sameKey.name}`);
    }
    toBuild.push(spec);
  }
  const data = existing ?? (txn ? txn.createCollection(ctx.db, coll, {}) : ctx.store.ensureCollection(ctx.db, coll));
  const numIndexesBefore = data.indexes.length;
  const built: IndexSpec[] = [];
  try {
    for (const spec of toBuild) {
      data.addIndex(ns, spec);
      built.push(spec);
    }
  } catch (err) {
    for (const spec of built) data.dropIndex(spec.name);
    throw err;
  }
  // A transaction's indexes are recorded when it commits.
  if (!txn) ctx.store.record(built.map((spec) => ({
    op: 'createIndexes',
    db: ctx.db,
    coll,
    collectionUUID: data.uuid,
    operationDescription: { indexes: [indexDoc(spec)] },
  })));
  const reply: Document = { numIndexesBefore, numIndexesAfter: data.indexes.length, createdCollectionAutomatically: !existing };
  if (built.length === 0) reply.note = 'all indexes already exist';
  return reply;
}

function dropIndexes(ctx: CommandContext, cmd: Document): Document {
  const coll = collectionName(cmd, ctx.db);
  checkFields(cmd, 'dropIndexes', { index: 'any', collectionUUID: 'any', isTimeseriesNamespace: 'bool' }, { command: true });
  if (cmd.index === undefined || cmd.index === null) throw missingField('dropIndexes.index');
  refuseView(ctx.store, ctx.db, coll);
  const data = ctx.store.collection(ctx.db, coll);
  if (!data) throw new CommandError('NamespaceNotFound', `ns not found ${ctx.db}.${coll}`);
  const index = cmd.index;
  let targets: IndexSpec[];
  if (index === '*') {
    targets = data.indexes.filter((i) => i.name !== '_id_' && !i.clustered);
  } else if (typeof index === 'string' || Array.isArray(index)) {
    const names = typeof index === 'string' ? [index] : index;
    targets = names.map((name) => {
      if (typeof name !== 'string') throw wrongType('dropIndexes.index', 'string', name);
      const found = data.indexes.find((i) => i.name === name);
      if (!found) throw new CommandError('IndexNotFound', `index not found with name [${name}]`);
      return found;
    });
  } else if (isDocument(index)) {
    const found = data.indexes.filter((i) => sameValue(i.key, index));
    if (found.length === 0) throw new CommandError('IndexNotFound', `can't find index with key: ${specText(index)}`);
    targets = found.slice(0, 1);
  } else {
    throw new CommandError('TypeMismatch', `BSON field 'dropIndexes.index' is the wrong type, expected types '[string, object, array]'`);
  }
  if (targets.some((i) => i.name === '_id_' && !i.clustered)) throw new CommandError('InvalidOptions', 'cannot drop _id index');
  if (targets.some((i) => i.clustered)) throw new CommandError('InvalidOptions', 'cannot drop a clustered index');
  const nIndexesWas = data.indexes.length;
  for (const spec of targets) data.dropIndex(spec.name);
  ctx.store.record(targets.map((spec) => ({
    op: 'dropIndexes',
    db: ctx.db,
    coll,
    collectionUUID: data.uuid,
    operationDescription: { indexes: [indexDoc(spec)] },
  })));
  return index === '*' ? { nIndexesWas, msg: 'non-_id indexes dropped for collection' } : { nIndexesWas };
}


export const INDEX_COMMANDS: CommandSpec[] = [
  { name: 'listIndexes', read: true, run: listIndexes },
  { name: 'createIndexes', write: true, inTransaction: true, run: createIndexes },
  { name: 'dropIndexes', aliases: ['deleteIndexes'], write: true, run: dropIndexes },
];
