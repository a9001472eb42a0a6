import { MongoServerError, type Collection, type ResumeToken } from 'mongodb';
import { CheckpointCorruptError, CheckpointLeaseLostError } from '../errors';
import {
  assertCheckpointKey,
  assertLease,
  assertPosition,
  assertTtl,
  type AcquireOptions,
  type CheckpointStore,
  type Lease,
  type LeaseInfo,
  type SaveOptions,
} from './store';

/** One key's checkpoint and lease, as {@link CollectionCheckpointStore} stores them. */
export interface CheckpointDocument {
  /** The checkpoint key. */
  _id: string;
  /** The saved position; absent until the first save. */
  token?: ResumeToken;
  /** When it was saved (server clock). */
  savedAt?: Date;
  /** The fence of the newest lease; only grows. */
  fence?: number;
  /** Who holds the lease; `null` once released. */
  holder?: string | null;
  /** When the lease ends unless renewed (server clock); `null` once released. */
  expiresAt?: Date | null;
}

const DUPLICATE_KEY = 11000;
const EPOCH = new Date(0);

/**
 * A {@link CheckpointStore} keeping one document per key (`_id` = key) in a
 * MongoDB collection: the position, and the lease with its fence. Every
 * call is one single-document compare-and-set, so it is atomic; lease
 * expiry is computed with the server's clock (`$$NOW`), so the consumers'
 * clocks do not matter. Durability follows the collection's write concern:
 * give it `{ w: 'majority' }` so a failover cannot roll a checkpoint back.
 *
 * `save` takes a `session`, to commit the checkpoint in the same transaction
 * as the handler's writes.
 *
 * Takes the driver's `Collection` (`rxCollection.driver` from rxmongo) so the
 * store does not depend on the Rx layer it serves.
 *
 * @example
 * const checkpoints = client.driver.db('ops').collection<CheckpointDocument>('checkpoints', {
 *   writeConcern: { w: 'majority' },
 * });
 * const store = new CollectionCheckpointStore(checkpoints);
 */
export class CollectionCheckpointStore implements CheckpointStore {
  constructor(readonly collection: Collection<CheckpointDocument>) {
    if (collection === null || typeof collection !== 'object' || typeof collection.findOneAndUpdate !== 'function') {
      throw new TypeError('CollectionCheckpointStore needs a driver Collection (e.g. rxCollection.driver)');
    }
  }

  async load(key: string): Promise<ResumeToken | undefined> {
    assertCheckpointKey(key);
    const found = await this.collection.findOne({ _id: key }, { projection: { token: 1, savedAt: 1, fence: 1 } });
    if (found === null) return undefined;
    if (found.token != null) return found.token;
    // A document made by acquire alone holds a fence and nothing else: no checkpoint yet.
    if (!('token' in found) && found.savedAt === undefined && found.fence !== undefined) return undefined;
    const where = `${this.collection.dbName}.${this.collection.collectionName} _id ${JSON.stringify(key)}`;
    throw new CheckpointCorruptError(where, 'the document holds no token');
  }

  async acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    assertCheckpointKey(key);
    assertTtl(options?.ttlMS);
    const { holder, ttlMS } = options;
    if (typeof holder !== 'string' || holder.length === 0) throw new TypeError('acquire() needs a holder (a non-empty string)');
    try {
      const taken = await this.collection.findOneAndUpdate(
        {
          _id: key,
          $expr: { $or: [{ $lte: [{ $ifNull: ['$expiresAt', EPOCH] }, '$$NOW'] }, { $eq: ['$holder', { $literal: holder }] }] },
        },
        // $literal: a holder starting with "$" must not be read as a field path.
        [{ $set: { fence: { $add: [{ $ifNull: ['$fence', 0] }, 1] }, holder: { $literal: holder }, expiresAt: { $add: ['$$NOW', ttlMS] } } }],
        { upsert: true, returnDocument: 'after', projection: { fence: 1 } },
      );
      if (taken === null || typeof taken.fence !== 'number') throw new Error(`acquire of ${JSON.stringify(key)} returned no fence`);
      return { key, holder, fence: taken.fence };
    } catch (error) {
      // The document exists and did not match: another holder's lease is live.
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return undefined;
      throw error;
    }
  }

  async renew(lease: Lease, ttlMS: number): Promise<Lease> {
    assertLease(lease);
    assertTtl(ttlMS);
    const renewed = await this.collection.findOneAndUpdate(
      { _id: lease.key, fence: lease.fence, holder: lease.holder },
      [{ $set: { expiresAt: { $add: ['$$NOW', ttlMS] } } }],
      { projection: { _id: 1 } },
    );
    if (renewed === null) throw await this.lost(lease);
    return lease;
  }

  async save(lease: Lease, token: ResumeToken, options: SaveOptions = {}): Promise<void> {
    assertLease(lease);
    assertPosition(token);
    const result = await this.collection.updateOne(
      { _id: lease.key, fence: lease.fence, holder: lease.holder },
      { $set: { token }, $currentDate: { savedAt: true } },
      options.session === undefined ? {} : { session: options.session },
    );
    if (result.matchedCount === 0) throw await this.lost(lease);
  }

  async release(lease: Lease): Promise<void> {
    assertLease(lease);
    await this.collection.updateOne(
      { _id: lease.key, fence: lease.fence, holder: lease.holder },
      { $set: { holder: null, expiresAt: null } },
    );
  }

  async leases(prefix: string): Promise<LeaseInfo[]> {
    const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const live = await this.collection
      .find({ _id: { $regex: `^${escaped}` }, $expr: { $gt: ['$expiresAt', '$$NOW'] } })
      .project<{ _id: string; holder: string; fence: number; expiresAt: Date }>({ holder: 1, fence: 1, expiresAt: 1 })
      .toArray();
    return live.map((d) => ({ key: d._id, holder: d.holder, fence: d.fence, expiresAt: d.expiresAt }));
  }

  private async lost(lease: Lease): Promise<CheckpointLeaseLostError> {
    const now = await this.collection.findOne({ _id: lease.key }, { projection: { fence: 1 } });
    return new CheckpointLeaseLostError(lease.key, lease.fence, `the key is now held with fence ${now?.fence ?? 'none'}`);
  }
}
