/**
 * A database of its own for one spec file on the shared backend: connected
 * before the file's specs, dropped after them, with collection names that
 * never repeat within the file.
 */
import type { Collection, Db, Document, MongoClient, ObjectId } from 'mongodb';
import { driverClient, uniqueDbName } from './backend';

/** Documents whose `_id` may be of any type, as conformance specs use them. */
export type AnyIdDoc = Document & { _id?: string | number | ObjectId | Document };

export interface ScratchDatabase {
  readonly client: MongoClient;
  readonly db: Db;
  /** A collection name this spec file has not used yet. */
  freshName(): string;
  /** A collection not used before, seeded with `docs`. */
  fresh(docs?: Document[]): Promise<Collection<AnyIdDoc>>;
}

/** Registers the file's beforeAll/afterAll; read `client` and `db` inside specs. */
export function scratchDatabase(prefix: string): ScratchDatabase {
  let client: MongoClient | undefined;
  let db: Db | undefined;
  let counter = 0;
  beforeAll(async () => {
    client = driverClient();
    await client.connect();
    db = client.db(uniqueDbName(prefix));
  });
  afterAll(async () => {
    await db?.dropDatabase();
    await client?.close();
  });
  const scratch: ScratchDatabase = {
    get client() {
      if (!client) throw new Error('scratchDatabase: read client inside a spec or hook');
      return client;
    },
    get db() {
      if (!db) throw new Error('scratchDatabase: read db inside a spec or hook');
      return db;
    },
    freshName: () => `c${(counter += 1)}`,
    fresh: async (docs = []) => {
      const coll = scratch.db.collection<AnyIdDoc>(scratch.freshName());
      if (docs.length > 0) await coll.insertMany(docs);
      return coll;
    },
  };
  return scratch;
}
