/**
 * Logical sessions: retryable-write de-duplication by `lsid` + `txnNumber`,
 * and multi-document transactions as snapshots of the store whose writes are
 * staged and committed atomically at one cluster time.
 *
 * Locking follows mongod: a transaction that writes a document holds it until
 * it ends; another transaction writing it fails at once with WriteConflict
 * (TransientTransactionError), and so does a transaction writing a document
 * changed after its snapshot. A write outside any transaction waits for the
 * holder to end and then runs (see {@link StatementView}).
 */
import { Timestamp, UUID, type Binary, type Document } from 'bson';
import { CommandError } from './errors';
import { CollectionData, idKey, type CollectionOptions, type DataView, type Mutation, type Store } from './store';


const WRITE_CONFLICT_MESSAGE =
  'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.';

/** The lock key of the document a mutation writes. */
function lockKey(m: Mutation): string {
  const id = m.op === 'insert' ? m.doc._id : m.before._id;
  return `${m.db}.${m.coll}|${idKey(id)}`;
}

/** A write outside a transaction hit a document an open transaction holds. */
class LockConflict extends CommandError {
  constructor(readonly holder: Transaction) {
    super('WriteConflict', WRITE_CONFLICT_MESSAGE);
  }
}

export function lsidKey(lsid: Document): string {
  const id = lsid.id as Binary | undefined;
  return id && typeof id.toString === 'function' ? id.toString('hex') : idKey(lsid);
}

export class ServerSession {
  /** Highest txnNumber seen; older ones are TransactionTooOld. */
  txnNumber = -1n;
  /** Reply of the retryable write with `txnNumber`, for de-duplication. */
  retriedReply?: Document;
  /** Outcomes of the statements of the retryable write with `txnNumber` that were applied, by index. */
  readonly statements = new Map<number, unknown>();
  transaction?: Transaction;
  lastUse = Date.now();
  /** The user that started it (`name@db`), when authentication is on. */
  user?: string;

  constructor(
    readonly key: string,
    readonly lsid: Document,
  ) {}
}

/** A session as the sessions collection (`config.system.sessions`) records it. */
export interface SessionRecord {
  lsid: Document;
  lastUse: Date;
  /** The user that owns it (`name@db`), when authentication is on. */
  user?: string;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, ServerSession>();
  /**
   * `config.system.sessions`: the sessions as of the last refresh of the
   * logical session cache (mongod refreshes every 5 minutes, or on
   * `refreshLogicalSessionCacheNow`).
   */
  readonly persisted = new Map<string, SessionRecord>();
  private readonly ended = new Set<string>();
  /** Documents written by open transactions: `ns|_id` → owner, for write conflicts. */
  readonly locks = new Map<string, Transaction>();

  get(lsid: Document, user?: string): ServerSession {
    const key = lsidKey(lsid);
    let session = this.sessions.get(key);
    if (!session) this.sessions.set(key, (session = new ServerSession(key, lsid)));
    session.user ??= user;
    session.lastUse = Date.now();
    return session;
  }

  end(lsid: Document): ServerSession | undefined {
    const key = lsidKey(lsid);
    const session = this.sessions.get(key);
    this.sessions.delete(key);
    this.ended.add(key);
    session?.transaction?.abort();
    return session;
  }

  /** The sessions in the cache, as `$listLocalSessions` lists them. */
  list(): ServerSession[] {
    return [...this.sessions.values()];
  }

  /** Writes the cache to `config.system.sessions`: active sessions recorded, ended ones removed. */
  refresh(): void {
    for (const key of this.ended) this.persisted.delete(key);
    this.ended.clear();
    for (const session of this.sessions.values()) {
      this.persisted.set(session.key, { lsid: session.lsid, lastUse: new Date(session.lastUse), user: session.user });
    }
  }

  /** Aborts every open transaction, as a stepdown or killAllSessions does. */
  abortAll(): void {
    for (const session of this.sessions.values()) session.transaction?.abort();
  }

  /** The transaction holding the document a write outside any transaction wants. */
  holder(m: Mutation): Transaction | undefined {
    return this.locks.get(lockKey(m));
  }

  get size(): number {
    return this.sessions.size;
  }
}

type TxnState = 'inProgress' | 'committed' | 'aborted';

/** A transaction's private view: copies of the collections it touched, plus staged writes. */
export class Transaction implements DataView {
  state: TxnState = 'inProgress';
  /** Resolves when the transaction commits or aborts; writes waiting on its locks go on then. */
  readonly finished: Promise<void>;
  /** The cluster time its reads see: the newest when it started. */
  private readonly snapshot: Timestamp;
  private readonly working = new Map<string, CollectionData | null>();
  private readonly mutations: Mutation[] = [];
  private readonly written = new Set<string>();
  private readonly created = new Map<string, { db: string; coll: string }>();
  private resolveFinished!: () => void;
  private readonly lifetime: NodeJS.Timeout;

  constructor(
    readonly store: Store,
    readonly registry: SessionRegistry,
    readonly lsid: Document,
    readonly txnNumber: bigint,
    /** `transactionLifetimeLimitSeconds`: an open transaction older than this is aborted. */
    lifetimeMs: number,
  ) {
    this.snapshot = store.clusterTime;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.lifetime = setTimeout(() => this.abort(), lifetimeMs);
    this.lifetime.unref();
  }

  collection(db: string, coll: string): CollectionData | undefined {
    const ns = `${db}.${coll}`;
    if (!this.working.has(ns)) this.working.set(ns, collectionAt(this.store, db, coll, this.snapshot));
    return this.working.get(ns) ?? undefined;
  }

  write(m: Mutation): void {
    if (this.state !== 'inProgress') {
      throw new CommandError('NoSuchTransaction', `Transaction with { txnNumber: ${this.txnNumber} } has been aborted.`);
    }
    const ns = `${m.db}.${m.coll}`;
    const id = m.op === 'insert' ? m.doc._id : m.before._id;
    const lock = lockKey(m);
    let data = this.collection(m.db, m.coll);
    if (!this.written.has(lock)) {
      const owner = this.registry.locks.get(lock);
      const changedSince = this.store.collection(m.db, m.coll)?.get(id) !== data?.get(id);
      if ((owner && owner !== this) || changedSince) throw new CommandError('WriteConflict', WRITE_CONFLICT_MESSAGE);
    }
    if (!data) this.working.set(ns, (data = new CollectionData(this.store.collection(m.db, m.coll)?.uuid ?? new UUID(), {})));
    if (m.op === 'insert') {
      if (data.get(id)) throw duplicateId(ns, id);
      data.put(ns, m.doc);
    } else if (m.op === 'delete') {
      data.remove(data.get(id) ?? m.before);
    } else {
      data.put(ns, m.after, data.get(id) ?? m.before);
    }
    this.written.add(lock);
    this.registry.locks.set(lock, this);
    this.mutations.push(m);
  }

  /**
   * Creates a collection inside the transaction (MongoDB 4.4+): visible to
   * its statements now, created in the store, with the indexes built on it
   * here, when the transaction commits.
   */
  createCollection(db: string, coll: string, options: CollectionOptions): CollectionData {
    const ns = `${db}.${coll}`;
    if (this.collection(db, coll)) throw new CommandError('NamespaceExists', `Collection ${ns} already exists.`);
    const data = new CollectionData(new UUID(), options);
    this.working.set(ns, data);
    this.created.set(ns, { db, coll });
    return data;
  }

  /** Whether this transaction created the collection (so it may build indexes on it). */
  createdHere(db: string, coll: string): boolean {
    return this.created.has(`${db}.${coll}`);
  }

  commit(): void {
    if (this.state === 'committed') return;
    try {
      this.commitCatalog();
      if (this.mutations.length > 0) this.store.commit(this.mutations, { lsid: this.lsid, txnNumber: this.txnNumber });
      this.finish('committed');
    } catch (err) {
      this.finish('aborted');
      throw err;
    }
  }

  abort(): void {
    if (this.state === 'inProgress') this.finish('aborted');
  }

  /** Creates the collections this transaction created, with their indexes, before its writes are applied. */
  private commitCatalog(): void {
    // Created by someone else since: the transaction conflicts, as mongod's would.
    for (const { db, coll } of this.created.values()) {
      if (this.store.collection(db, coll)) throw new CommandError('WriteConflict', WRITE_CONFLICT_MESSAGE);
    }
    for (const [ns, { db, coll }] of this.created) {
      const staged = this.working.get(ns)!;
      const data = this.store.ensureCollection(db, coll, staged.options);
      const built = staged.indexes.filter((index) => index.name !== '_id_');
      for (const index of built) data.addIndex(ns, index);
      this.store.record(built.map((index) => {
        const { key, name, v, ...rest } = index;
        return { op: 'createIndexes' as const, db, coll, collectionUUID: data.uuid, operationDescription: { indexes: [{ v: v ?? 2, key, name, ...rest }] } };
      }));
    }
  }

  private finish(state: TxnState): void {
    this.state = state;
    clearTimeout(this.lifetime);
    for (const lock of this.written) {
      if (this.registry.locks.get(lock) === this) this.registry.locks.delete(lock);
    }
    this.resolveFinished();
  }


}

/**
 * A collection as it was at cluster time `time`: the current copy with every
 * later change in the retained oplog undone, newest first; null if it did
 * not exist then.
 */
export function collectionAt(store: Store, db: string, coll: string, time: Timestamp): CollectionData | null {
  const current = store.collection(db, coll);
  if (!current) return null;
  const copy = current.clone();
  const ns = `${db}.${coll}`;
  const oplog = store.oplog;
  for (let i = oplog.length - 1; i >= 0 && oplog[i].clusterTime.greaterThan(time); i--) {
    const entry = oplog[i];
    if (entry.db !== db || entry.coll !== coll || !entry.documentKey) continue;
    const now = copy.get(entry.documentKey._id);
    if (now) copy.remove(now);
    if (entry.op === 'insert' || !entry.before) continue;
    try {
      copy.put(ns, entry.before);
    } catch {
      copy.docs.set(idKey(entry.before._id), entry.before); // a unique index built after the snapshot
    }
  }
  return copy;
}

/**
 * The view a command outside any transaction reads and writes through: the
 * committed store, with each write first checked against transaction locks.
 * It remembers the first holder it met and how many writes got through, so
 * the dispatcher can wait for the holder and run the command again when
 * nothing was written yet — mongod's non-transactional writes wait rather
 * than fail. A write blocked after others went through stays a WriteConflict
 * (re-running would repeat them).
 */
export class StatementView implements DataView {
  blockedBy?: Transaction;
  writes = 0;

  constructor(
    private readonly store: Store,
    private readonly registry: SessionRegistry,
  ) {}

  collection(db: string, coll: string): CollectionData | undefined {
    return this.store.collection(db, coll);
  }

  write(m: Mutation): void {
    const holder = this.registry.holder(m);
    if (holder) {
      this.blockedBy ??= holder;
      throw new LockConflict(holder);
    }
    this.store.write(m);
    this.writes += 1;
  }
}

function duplicateId(ns: string, id: unknown): CommandError {
  return new CommandError('DuplicateKey', `E11000 duplicate key error collection: ${ns} index: _id_ dup key: { _id: ${JSON.stringify(id)} }`, {
    extra: { keyPattern: { _id: 1 }, keyValue: { _id: id } },
  });
}
