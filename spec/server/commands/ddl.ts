/**
 * Catalog commands: listing databases and collections; creating (also
 * views), changing, renaming and dropping collections and databases
 * (indexes are in indexes.ts). They change the committed store directly (mongod runs
 * them outside transactions) and record what they did in the oplog, so
 * change streams report them.
 */
import { BSON, type Document } from 'bson';
import { CommandError } from '../errors';
import { select } from '../query';
import { compileValidator } from '../validation';
import { DatabaseData, type CollectionData, type OplogEntry, type Store } from '../store';
import { ArraySource, openedBy } from '../cursors';
import {
  checkDatabase,
  checkFields,
  collectionName,
  cursorBatchSize,
  splitNamespace,
  toNumber,
  truthy,
  wrongType,
  type FieldType,
} from './args';
import type { CommandContext, CommandSpec } from './types';
import { checkViewCycle, checkViewPipeline, viewDefinition, type ViewDefinition } from '../views';

type Entry = Omit<OplogEntry, 'clusterTime' | 'txnOpIndex' | 'wallTime'>;

/** Databases mongod will not drop. */
const PROTECTED_DATABASES = new Set(['admin', 'local', 'config']);

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Removes a collection from the catalog, and its database with its last collection. */
function detach(store: Store, db: string, coll: string): CollectionData | undefined {
  const database = store.databases.get(db);
  const data = database?.collections.get(coll);
  if (!database || !data) return undefined;
  database.collections.delete(coll);
  if (database.empty) store.databases.delete(db);
  return data;
}

// ---------------------------------------------------------------- listing

function listDatabases(ctx: CommandContext, cmd: Document): Document {
  checkFields(cmd, 'listDatabases', { filter: 'object', nameOnly: 'boolish', authorizedDatabases: 'boolish' }, { command: true });
  const nameOnly = truthy(cmd.nameOnly);
  let databases: Document[] = [...ctx.store.databases.entries()]
    .filter(([, database]) => !database.empty)
    .map(([name, database]) => {
      let sizeOnDisk = 0;
      for (const data of database.collections.values()) {
        for (const doc of data.docs.values()) sizeOnDisk += BSON.calculateObjectSize(doc);
      }
      return nameOnly ? { name } : { name, sizeOnDisk, empty: false };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  if (cmd.filter) databases = select(databases, cmd.filter as Document);
  if (nameOnly) return { databases };
  const totalSize = databases.reduce((sum, d) => sum + (d.sizeOnDisk as number), 0);
  return { databases, totalSize, totalSizeMb: Math.floor(totalSize / (1024 * 1024)) };
}

function listCollections(ctx: CommandContext, cmd: Document): Promise<Document> {
  checkDatabase(ctx.db);
  checkFields(cmd, 'listCollections', {
    filter: 'object', nameOnly: 'boolish', authorizedCollections: 'boolish', cursor: 'object', includePendingDrops: 'boolish',
  }, { command: true });
  const batchSize = cursorBatchSize(cmd, 'listCollections');
  const nameOnly = truthy(cmd.nameOnly);
  const database = ctx.store.databases.get(ctx.db);
  const collections: Array<[string, Document]> = [...(database?.collections ?? new Map<string, CollectionData>()).entries()]
    .map(([name, data]) => [name, nameOnly
      ? { name, type: 'collection' }
      : {
        name,
        type: 'collection',
        options: { ...data.options },
        info: { readOnly: false, uuid: data.uuid },
        ...(data.options.clusteredIndex ? {} : { idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } }),
      }]);
  const views: Array<[string, Document]> = [...(database?.views ?? new Map<string, ViewDefinition>()).entries()]
    .map(([name, view]) => [name, nameOnly ? { name, type: 'view' } : { name, type: 'view', options: { ...view }, info: { readOnly: true } }]);
  let docs = [...collections, ...views].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, doc]) => doc);
  if (cmd.filter) docs = select(docs, cmd.filter as Document);
  return ctx.member.cursors.first(`${ctx.db}.$cmd.listCollections`, new ArraySource(docs), batchSize, openedBy(cmd));
}

/** `dbStats`: counts and sizes of a database (BSON sizes stand in for storage sizes). */
function dbStats(ctx: CommandContext, cmd: Document): Document {
  checkDatabase(ctx.db);
  checkFields(cmd, 'dbStats', { scale: 'int64', freeStorage: 'any' }, { command: true });
  const scale = toNumber(cmd.scale) ?? 1;
  if (scale <= 0) throw new CommandError('BadValue', 'Scale factor must be greater than zero');
  const collections = [...(ctx.store.databases.get(ctx.db)?.collections.values() ?? [])];
  let objects = 0;
  let dataSize = 0;
  let indexes = 0;
  for (const data of collections) {
    objects += data.docs.size;
    indexes += data.indexes.length;
    for (const doc of data.docs.values()) dataSize += BSON.calculateObjectSize(doc);
  }
  const scaled = (n: number) => Math.floor(n / scale);
  return {
    db: ctx.db,
    collections: collections.length,
    views: ctx.store.databases.get(ctx.db)?.views.size ?? 0,
    objects,
    avgObjSize: objects > 0 ? dataSize / objects : 0,
    dataSize: scaled(dataSize),
    storageSize: scaled(dataSize),
    indexes,
    indexSize: 0,
    totalSize: scaled(dataSize),
    scaleFactor: scale,
  };
}

// ---------------------------------------------------------------- collections

const VALIDATION_LEVELS = ['off', 'strict', 'moderate'];
const VALIDATION_ACTIONS = ['error', 'warn', 'errorAndLog'];

/** Collection options create and collMod share, checked and normalised. */
function collectionOptions(command: string, cmd: Document): Document {
  const options: Document = {};
  const images = cmd.changeStreamPreAndPostImages;
  if (images !== undefined) {
    if (!isDocument(images)) throw wrongType(`${command}.changeStreamPreAndPostImages`, 'object', images);
    checkFields(images, `${command}.changeStreamPreAndPostImages`, { enabled: 'bool' }, { required: ['enabled'] });
    options.changeStreamPreAndPostImages = { enabled: images.enabled };
  }
  if (cmd.validator !== undefined) {
    const validator = cmd.validator as Document;
    compileValidator(validator);
    options.validator = validator;
  }
  for (const [field, allowed] of [['validationLevel', VALIDATION_LEVELS], ['validationAction', VALIDATION_ACTIONS]] as const) {
    const value = cmd[field];
    if (value === undefined) continue;
    if (!allowed.includes(value as string)) {
      throw new CommandError('BadValue', `Enumeration value '${String(value)}' for field '${command}.${field}' is not a valid value.`);
    }
    options[field] = value;
  }
  return options;
}

const CREATE_FIELDS: Record<string, FieldType> = {
  capped: 'boolish', autoIndexId: 'boolish', idIndex: 'object', size: 'int64', max: 'int64', storageEngine: 'object',
  validator: 'object', validationLevel: 'string', validationAction: 'string', indexOptionDefaults: 'object',
  viewOn: 'string', pipeline: 'array', collation: 'object', changeStreamPreAndPostImages: 'object', timeseries: 'object',
  clusteredIndex: 'any', expireAfterSeconds: 'int64', encryptedFields: 'object', recordIdsReplicated: 'boolish',
  flags: 'int64', temp: 'boolish',
};

function create(ctx: CommandContext, cmd: Document): Document {
  const coll = collectionName(cmd, ctx.db);
  checkFields(cmd, 'create', CREATE_FIELDS, { command: true });
  if (cmd.viewOn !== undefined || cmd.pipeline !== undefined) return createView(ctx, coll, cmd);
  if (cmd.timeseries !== undefined) {
    throw new CommandError('CommandNotSupported',
      "the wire test server does not support time series collections (create with 'timeseries'): mongod stores them as buckets in system.buckets.<name> behind a view, which it does not imitate");
  }
  if (cmd.encryptedFields !== undefined) {
    throw new CommandError('CommandNotSupported', "the wire test server does not support queryable encryption (create with 'encryptedFields')");
  }
  const options: Document = truthy(cmd.capped) ? cappedOptions(cmd) : {};
  const clustered = clusteredIndexOption(cmd);
  if (clustered) {
    options.clusteredIndex = clustered;
    if (cmd.expireAfterSeconds !== undefined) options.expireAfterSeconds = cmd.expireAfterSeconds;
  } else if (cmd.expireAfterSeconds !== undefined) {
    throw new CommandError('InvalidOptions', "'expireAfterSeconds' requires clustering to be enabled");
  }
  Object.assign(options, collectionOptions('create', cmd));
  if (cmd.collation !== undefined) options.collation = cmd.collation;
  if (ctx.transaction) {
    ctx.transaction.createCollection(ctx.db, coll, options);
    return {};
  }
  if (ctx.store.collection(ctx.db, coll) || viewDefinition(ctx.store, ctx.db, coll)) {
    throw new CommandError('NamespaceExists', `Collection ${ctx.db}.${coll} already exists.`);
  }
  ctx.store.ensureCollection(ctx.db, coll, options);
  return {};
}

/** `create` with `viewOn` and `pipeline`: a read-only view. */
function createView(ctx: CommandContext, name: string, cmd: Document): Document {
  if (typeof cmd.viewOn !== 'string') throw new CommandError('BadValue', "'pipeline' requires 'viewOn' to also be specified");
  if (cmd.viewOn === '') throw new CommandError('BadValue', "'viewOn' cannot be empty");
  const forbidden = ['capped', 'validator', 'validationLevel', 'validationAction', 'timeseries', 'clusteredIndex', 'changeStreamPreAndPostImages', 'idIndex']
    .find((option) => cmd[option] !== undefined);
  if (forbidden) throw new CommandError('InvalidOptions', `option not supported on a view: ${forbidden}`);
  if (ctx.transaction) throw new CommandError('OperationNotSupportedInTransaction', `Cannot create a view in a multi-document transaction.`);
  const pipeline = (cmd.pipeline ?? []) as Document[];
  checkViewPipeline(pipeline);
  if (ctx.store.collection(ctx.db, name) || viewDefinition(ctx.store, ctx.db, name)) {
    throw new CommandError('NamespaceExists', `Namespace ${ctx.db}.${name} already exists`);
  }
  checkViewCycle(ctx.store, ctx.db, name, cmd.viewOn);
  let database = ctx.store.databases.get(ctx.db);
  if (!database) ctx.store.databases.set(ctx.db, (database = new DatabaseData()));
  const definition: ViewDefinition = { viewOn: cmd.viewOn, pipeline };
  if (cmd.collation !== undefined) definition.collation = cmd.collation as Document;
  database.views.set(name, definition);
  return {};
}

/** `clusteredIndex: { key: { _id: 1 }, unique: true, name? }`: a collection clustered by `_id` (MongoDB 5.3+). */
function clusteredIndexOption(cmd: Document): Document | undefined {
  const spec = cmd.clusteredIndex;
  if (spec === undefined || spec === null || spec === false) return undefined;
  if (!isDocument(spec)) throw new CommandError('TypeMismatch', "BSON field 'create.clusteredIndex' is the wrong type, expected types '[bool, object']");
  checkFields(spec, 'create.clusteredIndex', { key: 'object', unique: 'bool', name: 'string', v: 'int64' }, { required: ['key', 'unique'] });
  const key = spec.key as Document;
  if (Object.keys(key).length !== 1 || toNumber(key._id) !== 1) {
    throw new CommandError('InvalidIndexSpecificationOption', "The clusteredIndex option is only supported for key: {_id: 1}");
  }
  if (spec.unique !== true) throw new CommandError('InvalidIndexSpecificationOption', 'The clusteredIndex option requires unique: true');
  if (truthy(cmd.capped)) throw new CommandError('BadValue', 'Cannot create a clustered collection that is capped');
  return { v: 2, key: { _id: 1 }, name: (spec.name as string | undefined) ?? '_id_', unique: true };
}

/** `capped`, `size` (in bytes, rounded up to 256 as mongod does) and `max`; inserts evict the oldest documents. */
function cappedOptions(cmd: Document): Document {
  const size = toNumber(cmd.size);
  if (size === undefined) throw new CommandError('InvalidOptions', "the 'size' field is required when 'capped' is true");
  if (size <= 0) throw new CommandError('BadValue', "The 'size' field for capped collections must be greater than 0");
  const options: Document = { capped: true, size: Math.ceil(size / 256) * 256 };
  const max = toNumber(cmd.max);
  if (max !== undefined && max > 0) options.max = max;
  return options;
}

function collMod(ctx: CommandContext, cmd: Document): Document {
  const coll = collectionName(cmd, ctx.db);
  checkFields(cmd, 'collMod', {
    changeStreamPreAndPostImages: 'object', validator: 'object', validationLevel: 'string', validationAction: 'string',
    index: 'object', viewOn: 'string', pipeline: 'array', expireAfterSeconds: 'any', timeseries: 'object', dryRun: 'boolish',
    cappedSize: 'int64', cappedMax: 'int64', recordIdsReplicated: 'boolish', collectionUUID: 'any',
  }, { command: true });
  const view = viewDefinition(ctx.store, ctx.db, coll);
  if (view) return modifyView(view, ctx, coll, cmd);
  if (cmd.viewOn !== undefined || cmd.pipeline !== undefined) {
    throw new CommandError('InvalidOptions', `option only supported on a view: ${cmd.viewOn !== undefined ? 'viewOn' : 'pipeline'}`);
  }
  for (const unsupported of ['index', 'expireAfterSeconds', 'timeseries', 'cappedSize', 'cappedMax'] as const) {
    if (cmd[unsupported] !== undefined) {
      throw new CommandError('CommandNotSupported', `the wire test server does not support collMod with '${unsupported}'`);
    }
  }
  const data = ctx.store.collection(ctx.db, coll);
  if (!data) throw new CommandError('NamespaceNotFound', `ns does not exist: ${ctx.db}.${coll}`);
  const changes = collectionOptions('collMod', cmd);
  if (truthy(cmd.dryRun)) return {};
  const before = data.options;
  // A new options object: transactions' copies keep the one they started with.
  data.options = { ...data.options, ...changes };
  // A modify event (with showExpandedEvents) tells what was asked and the options before.
  ctx.store.record([{
    op: 'modify',
    db: ctx.db,
    coll,
    collectionUUID: data.uuid,
    operationDescription: changes,
    stateBeforeChange: { collectionOptions: { uuid: data.uuid, ...before } },
  }]);
  return {};
}

/** collMod of a view: a new `viewOn` and `pipeline` (both together, as mongod demands). */
function modifyView(view: ViewDefinition, ctx: CommandContext, name: string, cmd: Document): Document {
  const other = ['changeStreamPreAndPostImages', 'validator', 'validationLevel', 'validationAction', 'index', 'expireAfterSeconds',
    'timeseries', 'cappedSize', 'cappedMax'].find((k) => cmd[k] !== undefined);
  if (other) throw new CommandError('InvalidOptions', `option not supported on a view: ${other}`);
  if ((cmd.viewOn === undefined) !== (cmd.pipeline === undefined)) {
    throw new CommandError('InvalidOptions', "Must specify both 'viewOn' and 'pipeline' when modifying a view");
  }
  if (cmd.viewOn === undefined || truthy(cmd.dryRun)) return {};
  const pipeline = cmd.pipeline as Document[];
  checkViewPipeline(pipeline);
  checkViewCycle(ctx.store, ctx.db, name, cmd.viewOn as string);
  ctx.store.databases.get(ctx.db)!.views.set(name, { ...view, viewOn: cmd.viewOn as string, pipeline });
  return {};
}

function drop(ctx: CommandContext, cmd: Document): Document {
  const coll = collectionName(cmd, ctx.db);
  checkFields(cmd, 'drop', { collectionUUID: 'any' }, { command: true });
  const database = ctx.store.databases.get(ctx.db);
  if (database?.views.delete(coll)) {
    if (database.empty) ctx.store.databases.delete(ctx.db);
    return { ns: `${ctx.db}.${coll}` };
  }
  const data = detach(ctx.store, ctx.db, coll);
  // Since MongoDB 7.0 dropping a collection that does not exist succeeds.
  if (!data) return {};
  ctx.store.record([{ op: 'drop', db: ctx.db, coll, collectionUUID: data.uuid }]);
  return { nIndexesWas: data.indexes.length, ns: `${ctx.db}.${coll}` };
}

function dropDatabase(ctx: CommandContext, cmd: Document): Document {
  checkDatabase(ctx.db);
  checkFields(cmd, 'dropDatabase', {}, { command: true });
  if (PROTECTED_DATABASES.has(ctx.db)) {
    throw new CommandError('IllegalOperation', `Dropping the '${ctx.db}' database is prohibited.`);
  }
  const database = ctx.store.databases.get(ctx.db);
  if (!database) return {};
  const entries: Entry[] = [...database.collections.entries()].map(([coll, data]) => ({
    op: 'drop',
    db: ctx.db,
    coll,
    collectionUUID: data.uuid,
  }));
  ctx.store.databases.delete(ctx.db);
  ctx.store.record([...entries, { op: 'dropDatabase', db: ctx.db }]);
  return { dropped: ctx.db };
}

function renameCollection(ctx: CommandContext, cmd: Document): Document {
  checkFields(cmd, 'renameCollection', {
    to: 'string', dropTarget: 'any', stayTemp: 'boolish', collectionUUID: 'any', targetUUID: 'any',
  }, { command: true, required: ['to'] });
  if (typeof cmd.renameCollection !== 'string') throw wrongType('renameCollection.renameCollection', 'string', cmd.renameCollection);
  const from = namespace('source', cmd.renameCollection);
  const to = namespace('target', cmd.to as string);
  if (viewDefinition(ctx.store, from.db, from.coll)) throw new CommandError('CommandNotSupportedOnView', `cannot rename view: ${from.db}.${from.coll}`);
  if (viewDefinition(ctx.store, to.db, to.coll)) throw new CommandError('NamespaceExists', 'a view already exists with that name');
  const source = ctx.store.collection(from.db, from.coll);
  if (!source) throw new CommandError('NamespaceNotFound', `Source collection ${from.db}.${from.coll} does not exist`);
  if (from.db === to.db && from.coll === to.coll) throw new CommandError('IllegalOperation', "Can't rename a collection to itself");
  const target = ctx.store.collection(to.db, to.coll);
  if (target && !truthy(cmd.dropTarget)) throw new CommandError('NamespaceExists', 'target namespace exists');
  if (target) detach(ctx.store, to.db, to.coll);
  detach(ctx.store, from.db, from.coll);
  let database = ctx.store.databases.get(to.db);
  if (!database) ctx.store.databases.set(to.db, (database = new DatabaseData()));
  database.collections.set(to.coll, source);
  const operationDescription: Document = { to: { db: to.db, coll: to.coll } };
  if (target) operationDescription.dropTarget = target.uuid;
  ctx.store.record([{ op: 'rename', db: from.db, coll: from.coll, collectionUUID: source.uuid, to, operationDescription }]);
  return {};
}

function namespace(which: 'source' | 'target', ns: string): { db: string; coll: string } {
  try {
    return splitNamespace(ns);
  } catch {
    throw new CommandError('InvalidNamespace', `Invalid ${which} namespace: ${ns}`);
  }
}

export const DDL_COMMANDS: CommandSpec[] = [
  { name: 'listDatabases', auth: 'authenticated', adminOnly: true, read: true, run: listDatabases },
  { name: 'listCollections', read: true, run: listCollections },
  { name: 'dbStats', aliases: ['dbstats'], read: true, run: dbStats },
  { name: 'create', write: true, inTransaction: true, run: create },
  { name: 'collMod', write: true, run: collMod },
  { name: 'drop', write: true, run: drop },
  { name: 'dropDatabase', write: true, run: dropDatabase },
  { name: 'renameCollection', adminOnly: true, write: true, run: renameCollection },
];
