import type { Collection, ResumeToken } from 'mongodb';
import { assertCheckpointKey, type CheckpointStore } from './store';

/** One checkpoint as {@link CollectionCheckpointStore} stores it. */
export interface CheckpointDocument {
  /** The checkpoint key. */
  _id: string;
  /** The resume token, as the server sent it. */
  token: ResumeToken;
  /** When it was saved (client clock). */
  savedAt: Date;
}

/**
 * A {@link CheckpointStore} keeping one document per key (`_id` = key) in a
 * MongoDB collection, replaced with an upsert on each save: a single-document
 * write, so atomic. Durability follows the collection's write concern; give
 * it `{ w: 'majority' }` so a failover cannot roll a checkpoint back.
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
    if (collection === null || typeof collection !== 'object' || typeof collection.updateOne !== 'function') {
      throw new TypeError('CollectionCheckpointStore needs a driver Collection (e.g. rxCollection.driver)');
    }
  }

  async load(key: string): Promise<ResumeToken | undefined> {
    assertCheckpointKey(key);
    const found = await this.collection.findOne({ _id: key }, { projection: { token: 1 } });
    return found?.token ?? undefined;
  }

  async save(key: string, token: ResumeToken): Promise<void> {
    assertCheckpointKey(key);
    if (token == null) throw new TypeError('a checkpoint token cannot be null or undefined');
    await this.collection.updateOne({ _id: key }, { $set: { token, savedAt: new Date() } }, { upsert: true });
  }
}
