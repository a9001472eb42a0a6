/**
 * The data every member of a test replica set shares: databases, collections,
 * unique indexes, the logical clock and the oplog. Every write goes through
 * {@link Store.commit} as oplog entries, so change streams, transactions and
 * retryable writes all rest on one mechanism, as they do in mongod.
 */
import { EventEmitter } from 'node:events';
import { EJSON, Timestamp, UUID, type Document } from 'bson';
import { CommandError } from './errors';
import { describeUpdate, type UpdateDescription, type UpdateTarget } from './update-description';
import { idKey } from './values';
import type { ViewDefinition } from './views';

/** One applied change, the source of every change event. */
export interface OplogEntry {
  clusterTime: Timestamp;
  /** Position among the entries of one transaction (all share its clusterTime). */
  txnOpIndex: number;
  wallTime: Date;
  op:
    | 'insert'
    | 'update'
    | 'replace'
    | 'delete'
    | 'create'
    | 'drop'
    | 'rename'
    | 'dropDatabase'
    | 'createIndexes'
    | 'dropIndexes'
    /** collMod: an expanded `modify` event. */
    | 'modify'
    /** A no-op entry (the set's first one), which no change stream shows. */
    | 'noop';
  db: string;
  /** Absent for dropDatabase. */
  coll?: string;
  collectionUUID?: UUID;
  documentKey?: Document;
  /** The document after the change (insert, update, replace). */
  after?: Document;
  /** The document before the change (update, replace, delete). */
  before?: Document;
  /** For update: what changed, as change streams report it. */
  updateDescription?: UpdateDescription;
  /** For rename. */
  to?: { db: string; coll: string };
  /** For createIndexes/dropIndexes/create/modify: what an expanded event describes. */
  operationDescription?: Document;
  /** For modify (collMod): the collection's options before the change. */
  stateBeforeChange?: Document;
  lsid?: Document;
  txnNumber?: bigint;
  /**
   * The collection had `changeStreamPreAndPostImages` enabled when the change
   * was made, so change streams can show its pre- and post-image.
   */
  imagesRecorded?: boolean;
}


export interface IndexSpec {
  name: string;
  key: Document;
  unique?: boolean;
  [option: string]: unknown;
}

export interface CollectionOptions {
  changeStreamPreAndPostImages?: { enabled: boolean };
  [option: string]: unknown;
}

/** One collection: documents by `_id`, kept in insertion order. */
export class CollectionData {
  readonly docs = new Map<string, Document>();
  /** unique index name → index key → `_id` key. */
  readonly uniqueKeys = new Map<string, Map<string, string>>();
  indexes: IndexSpec[] = [{ name: '_id_', key: { _id: 1 } }];

  constructor(
    readonly uuid: UUID,
    public options: CollectionOptions,
  ) {
    // A clustered collection (clusteredIndex) is ordered by _id: its _id index is the clustered index.
    const clustered = options.clusteredIndex as { name?: string } | undefined;
    if (clustered) this.indexes = [{ name: clustered.name ?? '_id_', key: { _id: 1 }, clustered: true }];
  }

  clone(): CollectionData {
    const copy = new CollectionData(this.uuid, this.options);
    for (const [k, v] of this.docs) copy.docs.set(k, v);
    for (const [name, keys] of this.uniqueKeys) copy.uniqueKeys.set(name, new Map(keys));
    copy.indexes = this.indexes;
    return copy;
  }

  get(id: unknown): Document | undefined {
    return this.docs.get(idKey(id));
  }

  /** Inserts or replaces a document, keeping unique indexes consistent; throws 11000 on a clash. */
  put(ns: string, doc: Document, previous?: Document): void {
    const key = idKey(doc._id);
    for (const index of this.indexes) {
      if (!index.unique) continue;
      const keys = this.uniqueKeys.get(index.name)!;
      const value = indexKey(index.key, doc);
      const owner = keys.get(value);
      if (owner !== undefined && owner !== key) throw duplicateKey(ns, index, doc);
    }
    if (previous) this.unindex(previous);
    for (const index of this.indexes) {
      if (index.unique) this.uniqueKeys.get(index.name)!.set(indexKey(index.key, doc), key);
    }
    this.docs.set(key, doc);
  }

  remove(doc: Document): void {
    this.unindex(doc);
    this.docs.delete(idKey(doc._id));
  }

  /** Adds an index; a unique one is built now and fails on existing duplicates. */
  addIndex(ns: string, spec: IndexSpec): void {
    if (spec.unique) {
      const keys = new Map<string, string>();
      for (const [id, doc] of this.docs) {
        const value = indexKey(spec.key, doc);
        if (keys.has(value)) throw duplicateKey(ns, spec, doc);
        keys.set(value, id);
      }
      this.uniqueKeys.set(spec.name, keys);
    }
    this.indexes = [...this.indexes, spec];
  }

  dropIndex(name: string): void {
    this.indexes = this.indexes.filter((i) => i.name !== name);
    this.uniqueKeys.delete(name);
  }

  private unindex(doc: Document): void {
    for (const index of this.indexes) {
      if (index.unique) this.uniqueKeys.get(index.name)!.delete(indexKey(index.key, doc));
    }
  }
}

export class DatabaseData {
  readonly collections = new Map<string, CollectionData>();
  /** Views by name (views.ts). */
  readonly views = new Map<string, ViewDefinition>();

  /** Whether the database holds nothing, and so no longer exists. */
  get empty(): boolean {
    return this.collections.size === 0 && this.views.size === 0;
  }
}

export { idKey, sameValue } from './values';

function indexKey(spec: Document, doc: Document): string {
  return idKey(Object.keys(spec).map((path) => getPath(doc, path) ?? null));
}

export function getPath(doc: Document, path: string): unknown {
  let value: unknown = doc;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Document)[part];
  }
  return value;
}

function duplicateKey(ns: string, index: IndexSpec, doc: Document): CommandError {
  const keyValue: Document = {};
  for (const path of Object.keys(index.key)) keyValue[path] = getPath(doc, path) ?? null;
  return new CommandError(
    'DuplicateKey',
    `E11000 duplicate key error collection: ${ns} index: ${index.name} dup key: ${EJSON.stringify(keyValue)}`,
    { extra: { keyPattern: index.key, keyValue } },
  );
}

/** What a write wants done; {@link Store.commit} turns it into oplog entries. */
export type Mutation =
  | { op: 'insert'; db: string; coll: string; doc: Document }
  | {
    op: 'update' | 'replace';
    db: string;
    coll: string;
    before: Document;
    after: Document;
    /** What an operator update targeted, for its updateDescription; absent: a pipeline diff. */
    targets?: UpdateTarget[];
  }
  | { op: 'delete'; db: string; coll: string; before: Document };

export interface StoreOptions {
  /** How many oplog entries are kept; older resume points yield ChangeStreamHistoryLost. */
  historySize?: number;
}

/**
 * A view of the data a command reads and writes: the committed store, or a
 * transaction's snapshot. Writes through a view are staged as mutations.
 */
export interface DataView {
  collection(db: string, coll: string): CollectionData | undefined;
  /** Stages a document write; returns after unique-index checks pass. */
  write(mutation: Mutation): void;
}

export class Store extends EventEmitter implements DataView {
  readonly databases = new Map<string, DatabaseData>();
  /** Retained history, oldest first. */
  readonly oplog: OplogEntry[] = [];
  historySize: number;
  /**
   * Where complete history begins: no entry at or after this position
   * (cluster time, then txnOpIndex) was ever trimmed. Resuming before it is
   * ChangeStreamHistoryLost.
   */
  historyStart: { clusterTime: Timestamp; txnOpIndex: number };
  private lastTime = new Timestamp({ t: 0, i: 0 });
  /** Read-only collections the server computes (`local.oplog.rs`), by namespace. */
  readonly systemCollections = new Map<string, (store: Store) => CollectionData>();

  constructor(options: StoreOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.historySize = options.historySize ?? 100_000;
    this.historyStart = { clusterTime: this.tick(), txnOpIndex: 0 };
    // As a replica set's oplog, never empty: it starts with the set's initiation.
    this.record([{ op: 'noop', db: 'admin', operationDescription: { msg: 'initiating set' } }]);
  }

  /** The newest cluster time handed out. */
  get clusterTime(): Timestamp {
    return this.lastTime;
  }

  /** Cluster times strictly increase: seconds since the epoch, then a counter. */
  tick(): Timestamp {
    const now = Math.floor(Date.now() / 1000);
    const last = this.lastTime;
    this.lastTime =
      now > last.high ? new Timestamp({ t: now, i: 1 }) : new Timestamp({ t: last.high, i: last.low + 1 });
    return this.lastTime;
  }

  collection(db: string, coll: string): CollectionData | undefined {
    const system = this.systemCollections.get(`${db}.${coll}`);
    if (system) return system(this);
    return this.databases.get(db)?.collections.get(coll);
  }

  /** Creates the collection (and database) if needed, recording a `create` entry. */
  ensureCollection(db: string, coll: string, options: CollectionOptions = {}): CollectionData {
    const existing = this.collection(db, coll);
    if (existing) return existing;
    let database = this.databases.get(db);
    if (!database) this.databases.set(db, (database = new DatabaseData()));
    const data = new CollectionData(new UUID(), options);
    database.collections.set(coll, data);
    this.record([{ op: 'create', db, coll, collectionUUID: data.uuid, operationDescription: { idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } } }]);
    return data;
  }

  write(mutation: Mutation): void {
    this.commit([mutation]);
  }

  /**
   * Applies document writes atomically at one cluster time (a transaction's
   * commit) or one each, and records them in the oplog.
   */
  commit(mutations: Mutation[], txn?: { lsid: Document; txnNumber: bigint }): Timestamp {
    for (const m of mutations) {
      if (this.systemCollections.has(`${m.db}.${m.coll}`)) {
        throw new CommandError('InvalidNamespace', `cannot write to '${m.db}.${m.coll}'`);
      }
    }
    // Validate first so that a failing write leaves nothing half-applied.
    const staged = new Map<string, CollectionData>();
    const stagedFor = (db: string, coll: string): CollectionData => {
      const key = `${db}.${coll}`;
      let data = staged.get(key);
      if (!data) {
        const current = this.collection(db, coll);
        data = current ? current.clone() : new CollectionData(new UUID(), {});
        staged.set(key, data);
      }
      return data;
    };
    // A single write checks everything before it changes anything, so only
    // a batch needs a dry run on copies.
    if (mutations.length > 1) {
      for (const m of mutations) applyMutation(stagedFor(m.db, m.coll), m);
    }
    const entries: Array<Omit<OplogEntry, 'clusterTime' | 'txnOpIndex' | 'wallTime'>> = [];
    for (const m of mutations) {
      const data = this.ensureCollection(m.db, m.coll);
      applyMutation(data, m);
      const entry = toEntry(m, data.uuid, txn);
      if (data.options.changeStreamPreAndPostImages?.enabled) entry.imagesRecorded = true;
      entries.push(entry);
    }
    return this.record(entries, txn !== undefined);
  }

  /** Appends entries to the oplog at a new cluster time and wakes waiting change streams. */
  record(entries: Array<Omit<OplogEntry, 'clusterTime' | 'txnOpIndex' | 'wallTime'>>, oneTime = false): Timestamp {
    const wallTime = new Date();
    let time = this.tick();
    entries.forEach((entry, i) => {
      if (i > 0 && !oneTime) time = this.tick();
      this.oplog.push({ ...entry, clusterTime: time, txnOpIndex: oneTime ? i : 0, wallTime });
    });
    const excess = this.oplog.length - this.historySize;
    if (excess > 0) {
      const newestTrimmed = this.oplog[excess - 1];
      this.historyStart = { clusterTime: newestTrimmed.clusterTime, txnOpIndex: newestTrimmed.txnOpIndex + 1 };
      this.oplog.splice(0, excess);
    }
    if (entries.length > 0) this.emit('oplog');
    return time;
  }

  /** Drops history so that resume points before now are lost (for history-lost specs). */
  truncateHistory(): void {
    const newest = this.oplog[this.oplog.length - 1];
    if (newest) this.historyStart = { clusterTime: newest.clusterTime, txnOpIndex: newest.txnOpIndex + 1 };
    this.oplog.splice(0, this.oplog.length);
  }
}

function applyMutation(data: CollectionData, m: Mutation): void {
  const ns = `${m.db}.${m.coll}`;
  switch (m.op) {
    case 'insert':
      if (data.get(m.doc._id)) {
        throw new CommandError(
          'DuplicateKey',
          `E11000 duplicate key error collection: ${ns} index: _id_ dup key: ${EJSON.stringify({ _id: m.doc._id })}`,
          { extra: { keyPattern: { _id: 1 }, keyValue: { _id: m.doc._id } } },
        );
      }
      data.put(ns, m.doc);
      break;
    case 'update':
    case 'replace':
      data.put(ns, m.after, data.get(m.before._id) ?? m.before);
      break;
    case 'delete':
      data.remove(data.get(m.before._id) ?? m.before);
      break;
  }
}

function toEntry(
  m: Mutation,
  uuid: UUID,
  txn?: { lsid: Document; txnNumber: bigint },
): Omit<OplogEntry, 'clusterTime' | 'txnOpIndex' | 'wallTime'> {
  const base = { db: m.db, coll: m.coll, collectionUUID: uuid, ...(txn ?? {}) };
  switch (m.op) {
    case 'insert':
      return { ...base, op: 'insert', documentKey: { _id: m.doc._id }, after: m.doc };
    case 'update':
      return {
        ...base,
        op: 'update',
        documentKey: { _id: m.after._id },
        before: m.before,
        after: m.after,
        updateDescription: describeUpdate(m.before, m.after, m.targets),
      };
    case 'replace':
      return { ...base, op: 'replace', documentKey: { _id: m.after._id }, before: m.before, after: m.after };
    case 'delete':
      return { ...base, op: 'delete', documentKey: { _id: m.before._id }, before: m.before };
  }
}

