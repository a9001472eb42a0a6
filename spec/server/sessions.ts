/**
 * Logical sessions: retryable-write de-duplication by `lsid` + `txnNumber`,
 * and multi-document transactions as snapshots of the store whose writes are
 * staged and committed atomically at one cluster time.
 */
import { UUID, type Binary, type Document } from 'bson';
import type { CommandContext, CommandSpec } from './commands/types';
import { CommandError } from './errors';
import { CollectionData, idKey, type DataView, type Mutation, type Store } from './store';

export function lsidKey(lsid: Document): string {
  const id = lsid.id as Binary | undefined;
  return id && typeof id.toString === 'function' ? id.toString('hex') : idKey(lsid);
}

export class ServerSession {
  /** Highest txnNumber seen; older ones are TransactionTooOld. */
  txnNumber = -1n;
  /** Reply of the retryable write with `txnNumber`, for de-duplication. */
  retriedReply?: Document;
  transaction?: Transaction;
  lastUse = Date.now();

  constructor(
    readonly key: string,
    readonly lsid: Document,
  ) {}
}

export class SessionRegistry {
  private readonly sessions = new Map<string, ServerSession>();
  /** Documents written by open transactions: `ns|_id` → owner, for write conflicts. */
  readonly locks = new Map<string, Transaction>();

  get(lsid: Document): ServerSession {
    const key = lsidKey(lsid);
    let session = this.sessions.get(key);
    if (!session) this.sessions.set(key, (session = new ServerSession(key, lsid)));
    session.lastUse = Date.now();
    return session;
  }

  end(lsid: Document): ServerSession | undefined {
    const key = lsidKey(lsid);
    const session = this.sessions.get(key);
    this.sessions.delete(key);
    session?.transaction?.abort();
    return session;
  }

  get size(): number {
    return this.sessions.size;
  }
}

type TxnState = 'inProgress' | 'committed' | 'aborted';

/** A transaction's private view: copies of the collections it touched, plus staged writes. */
export class Transaction implements DataView {
  state: TxnState = 'inProgress';
  private readonly working = new Map<string, CollectionData | null>();
  private readonly mutations: Mutation[] = [];
  private readonly written = new Set<string>();

  constructor(
    readonly store: Store,
    readonly registry: SessionRegistry,
    readonly lsid: Document,
    readonly txnNumber: bigint,
  ) {}

  collection(db: string, coll: string): CollectionData | undefined {
    const ns = `${db}.${coll}`;
    if (!this.working.has(ns)) this.working.set(ns, this.store.collection(db, coll)?.clone() ?? null);
    return this.working.get(ns) ?? undefined;
  }

  write(m: Mutation): void {
    const ns = `${m.db}.${m.coll}`;
    const id = m.op === 'insert' ? m.doc._id : m.before._id;
    const lock = `${ns}|${idKey(id)}`;
    let data = this.collection(m.db, m.coll);
    if (!this.written.has(lock)) {
      const owner = this.registry.locks.get(lock);
      const changedSince = this.store.collection(m.db, m.coll)?.get(id) !== data?.get(id);
      if ((owner && owner !== this) || changedSince) {
        throw new CommandError(
          'WriteConflict',
          'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
        );
      }
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

  commit(): void {
    if (this.state === 'committed') return;
    try {
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

  /** A failed statement aborts the transaction; conflicts are worth retrying whole. */
  failed(err: CommandError, labels: Set<string>): void {
    if (this.state !== 'inProgress') return;
    this.abort();
    if (err.code === 112 || err.code === 251) labels.add('TransientTransactionError');
  }

  private finish(state: TxnState): void {
    this.state = state;
    for (const lock of this.written) {
      if (this.registry.locks.get(lock) === this) this.registry.locks.delete(lock);
    }
  }
}

function duplicateId(ns: string, id: unknown): CommandError {
  return new CommandError('DuplicateKey', `E11000 duplicate key error collection: ${ns} index: _id_ dup key: { _id: ${JSON.stringify(id)} }`, {
    extra: { keyPattern: { _id: 1 }, keyValue: { _id: id } },
  });
}

export interface Begun {
  retryableWrite: boolean;
  cachedReply?: Document;
}

/** Attaches the session and transaction a command runs in. */
export function beginCommand(ctx: CommandContext, spec: CommandSpec, cmd: Document): Begun {
  const lsid = cmd.lsid as Document | undefined;
  if (!lsid) {
    if (cmd.txnNumber !== undefined) throw new CommandError('InvalidOptions', 'Transaction number requires a session ID to also be specified');
    return { retryableWrite: false };
  }
  const session = ctx.rs.sessions.get(lsid);
  ctx.session = session;
  if (cmd.txnNumber === undefined) {
    if (cmd.autocommit !== undefined || cmd.startTransaction !== undefined) {
      throw new CommandError('InvalidOptions', "'autocommit' and 'startTransaction' need a 'txnNumber'");
    }
    return { retryableWrite: false };
  }
  const txnNumber = BigInt(cmd.txnNumber.toString());
  if (cmd.autocommit === false) {
    ctx.transaction = transactionFor(ctx, spec, cmd, session, txnNumber);
    ctx.view = ctx.transaction;
    return { retryableWrite: false };
  }
  if (cmd.autocommit !== undefined) throw new CommandError('InvalidOptions', "'autocommit' may only be false");
  if (!spec.write) return { retryableWrite: false };
  if (txnNumber < session.txnNumber) {
    throw new CommandError('TransactionTooOld', `Retryable write with txnNumber ${txnNumber} is prohibited on session because a newer retryable write with txnNumber ${session.txnNumber} has already started on this session.`);
  }
  if (txnNumber === session.txnNumber && session.retriedReply) {
    return { retryableWrite: true, cachedReply: session.retriedReply };
  }
  session.txnNumber = txnNumber;
  session.retriedReply = undefined;
  return { retryableWrite: true };
}

/** Remembers a retryable write's reply so that a retry returns it without writing again. */
export function endCommand(ctx: CommandContext, spec: CommandSpec, cmd: Document, reply: Document): void {
  if (ctx.session && !ctx.transaction && spec.write && cmd.txnNumber !== undefined && reply.ok === 1) {
    ctx.session.retriedReply = { ...reply };
  }
}

function transactionFor(
  ctx: CommandContext,
  spec: CommandSpec,
  cmd: Document,
  session: ServerSession,
  txnNumber: bigint,
): Transaction {
  const name = spec.name;
  if (cmd.startTransaction === true) {
    if (txnNumber < session.txnNumber || (txnNumber === session.txnNumber && session.transaction)) {
      throw new CommandError('TransactionTooOld', `txnNumber ${txnNumber} is less than or equal to the last txnNumber ${session.txnNumber} on this session`);
    }
    session.transaction?.abort();
    session.txnNumber = txnNumber;
    session.transaction = new Transaction(ctx.store, ctx.rs.sessions, session.lsid, txnNumber);
  } else if (cmd.startTransaction !== undefined) {
    throw new CommandError('InvalidOptions', "'startTransaction' may only be true");
  }
  const txn = session.transaction;
  if (!txn || txn.txnNumber !== txnNumber) {
    throw new CommandError('NoSuchTransaction', `Transaction with { txnNumber: ${txnNumber} } has been aborted or was never started`, {
      labels: ['TransientTransactionError'],
    });
  }
  if (!spec.inTransaction) {
    throw new CommandError('OperationNotSupportedInTransaction', `Cannot run '${name}' in a multi-document transaction.`);
  }
  if (txn.state === 'aborted' && name !== 'abortTransaction') {
    throw new CommandError('NoSuchTransaction', `Transaction with { txnNumber: ${txnNumber} } has been aborted.`, {
      labels: ['TransientTransactionError'],
    });
  }
  if (txn.state === 'committed' && name !== 'commitTransaction') {
    throw new CommandError('TransactionCommitted', `Transaction with { txnNumber: ${txnNumber} } has been committed.`);
  }
  return txn;
}
