import { MongoClient, type ClientSession, type Collection, type ResumeToken } from 'mongodb';
import type { CheckpointDocument, CollectionCheckpointStore } from './collection';
import type { AcquireOptions, CheckpointStore, Lease, LeaseInfo, SaveOptions } from './store';

/** A checkpoint document with the session of its holder's transactions. */
interface TransactionalCheckpointDocument extends CheckpointDocument {
  /** The server session id (`lsid.id`) the lease holder runs its transactions in. */
  txnSession?: unknown;
}

/**
 * A {@link CollectionCheckpointStore} as one transactional consumer uses it:
 * it also owns the driver session the consumer's transactions run in, and
 * records that session's id on the key with the lease.
 *
 * Why: a consumer killed in the middle of a transaction leaves it open on
 * the server, holding its documents for up to `transactionLifetimeLimitSeconds`
 * (60 s by default); every transaction of its successor that touches them
 * fails with `WriteConflict` until then. A successor ends that transaction
 * at once with `killSessions`: before taking an expired lease (so its own
 * lease write does not wait behind the dead one) and right after taking the
 * key. A clean release forgets the session, so a session id returned to the
 * driver's pool is never killed later. `killSessions` failing (e.g. not
 * permitted) only means the dead transaction ends on its own.
 *
 * @internal
 */
export class TransactionalCheckpointStore implements CheckpointStore {
  private readonly collection: Collection<TransactionalCheckpointDocument>;
  private own: ClientSession | undefined;

  constructor(
    private readonly inner: CollectionCheckpointStore,
    private readonly client: MongoClient,
  ) {
    this.collection = inner.collection as Collection<TransactionalCheckpointDocument>;
  }

  /** The session this consumer's transactions run in (started on first use). */
  get session(): ClientSession {
    this.own ??= this.client.startSession();
    return this.own;
  }

  /** Ends the session (after the lease is given up). */
  async endSession(): Promise<void> {
    const session = this.own;
    this.own = undefined;
    await session?.endSession().catch(() => {});
  }

  load(key: string): Promise<ResumeToken | undefined> {
    return this.inner.load(key);
  }

  async acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    const expired = await this.collection.findOne(
      { _id: key, txnSession: { $exists: true }, $expr: { $lte: [{ $ifNull: ['$expiresAt', new Date(0)] }, '$$NOW'] } },
      { projection: { txnSession: 1 } },
    );
    const killed = expired?.txnSession;
    if (killed !== undefined) await this.kill(killed);
    const lease = await this.inner.acquire(key, options);
    if (lease === undefined) return undefined;
    const ours = this.session.id?.id;
    const before = await this.collection.findOneAndUpdate(
      { _id: key, fence: lease.fence, holder: lease.holder },
      { $set: { txnSession: ours } },
      { returnDocument: 'before', projection: { txnSession: 1 } },
    );
    const previous = before?.txnSession;
    if (previous !== undefined && !sameId(previous, ours) && !sameId(previous, killed)) await this.kill(previous);
    return lease;
  }

  renew(lease: Lease, ttlMS: number): Promise<Lease> {
    return this.inner.renew(lease, ttlMS);
  }

  save(lease: Lease, token: ResumeToken, options?: SaveOptions): Promise<void> {
    return this.inner.save(lease, token, options);
  }

  async release(lease: Lease): Promise<void> {
    await this.collection.updateOne({ _id: lease.key, fence: lease.fence, holder: lease.holder }, { $unset: { txnSession: '' } });
    await this.inner.release(lease);
  }

  leases(prefix: string): Promise<LeaseInfo[]> {
    return this.inner.leases(prefix);
  }

  private async kill(id: unknown): Promise<void> {
    await this.client
      .db('admin')
      .command({ killSessions: [{ id }] })
      .catch(() => {});
  }
}

function sameId(a: unknown, b: unknown): boolean {
  const bytes = (v: unknown): string | undefined => (v as { toString?: (f: string) => string } | null)?.toString?.('hex');
  return a !== undefined && b !== undefined && bytes(a) === bytes(b);
}

/**
 * The `MongoClient` a driver collection runs on, when it can be told: the
 * driver sets `client` on every `Collection` but does not type it publicly.
 *
 * @internal
 */
export function clientOf(collection: unknown): MongoClient | undefined {
  const client = (collection as { client?: unknown } | null)?.client;
  return client instanceof MongoClient ? client : undefined;
}
