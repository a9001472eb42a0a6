/**
 * Catalog commands through the stock driver, as mongod 8.0 answers them:
 * listDatabases, listCollections, create, collMod, drop, dropDatabase and
 * renameCollection — their replies, the catalog they leave, validators, and
 * the errors for missing, existing and invalid namespaces.
 */
import { type Db, type Document } from 'mongodb';
import { uniqueDbName } from '../support/backend';
import { scratchDatabase, type AnyIdDoc } from '../support/scratch';
import { serverError } from '../support/server-error';

type Doc = AnyIdDoc;
const scratch = scratchDatabase('ddl');

const { freshName } = scratch;

async function collectionNames(target: Db = scratch.db): Promise<string[]> {
  return (await target.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
}

async function databaseNames(): Promise<string[]> {
  return (await scratch.client.db('admin').admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
}

describe('create and listCollections', () => {
  it('creates a collection that listCollections describes', async () => {
    const name = freshName();
    await scratch.db.createCollection(name);
    const [info] = (await scratch.db.listCollections({ name }).toArray()) as Document[];
    expect(info).toMatchObject({ name, type: 'collection', options: {}, info: { readOnly: false } });
    expect(info.info.uuid).toBeDefined();
    expect(info.idIndex).toMatchObject({ key: { _id: 1 }, name: '_id_' });
  });

  it('refuses to create an existing collection (NamespaceExists)', async () => {
    const name = freshName();
    await scratch.db.createCollection(name);
    expect(await serverError(scratch.db.command({ create: name }))).toMatchObject({ code: 48, codeName: 'NamespaceExists' });
  });

  it('lists names only, and filters', async () => {
    const a = freshName();
    const b = freshName();
    await scratch.db.createCollection(a);
    await scratch.db.collection(b).insertOne({ x: 1 });
    const names = await collectionNames();
    expect(names).toEqual(expect.arrayContaining([a, b]));
    const [only] = await scratch.db.listCollections({ name: b }, { nameOnly: true }).toArray();
    expect(only).toEqual({ name: b, type: 'collection' });
    expect(await scratch.db.listCollections({ name: 'no_such_collection' }).toArray()).toEqual([]);
  });

  it('keeps create options and changes them with collMod', async () => {
    const name = freshName();
    await scratch.db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true } });
    let [info] = (await scratch.db.listCollections({ name }).toArray()) as Document[];
    expect(info.options.changeStreamPreAndPostImages).toEqual({ enabled: true });
    await scratch.db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: false } });
    [info] = (await scratch.db.listCollections({ name }).toArray()) as Document[];
    expect(info.options.changeStreamPreAndPostImages).toEqual({ enabled: false });
  });

  it('refuses collMod on a missing collection and bad option types', async () => {
    expect(await serverError(scratch.db.command({ collMod: 'no_such_collection', changeStreamPreAndPostImages: { enabled: true } })))
      .toMatchObject({ code: 26, codeName: 'NamespaceNotFound' });
    const name = freshName();
    await scratch.db.createCollection(name);
    expect((await serverError(scratch.db.command({ collMod: name, changeStreamPreAndPostImages: true }))).code).toBe(14);
  });

  it('enforces a query validator unless validation is bypassed', async () => {
    const name = freshName();
    await scratch.db.createCollection(name, { validator: { qty: { $gte: 0 } } });
    const coll = scratch.db.collection(name);
    await coll.insertOne({ qty: 1 });
    const err = await serverError(coll.insertOne({ qty: -1 }));
    expect(err.code).toBe(121);
    await coll.insertOne({ qty: -2 }, { bypassDocumentValidation: true });
    expect(await coll.countDocuments()).toBe(2);
    expect((await serverError(coll.updateOne({ qty: 1 }, { $set: { qty: -5 } }))).code).toBe(121);
  });

  it('creates capped collections that keep only their newest documents', async () => {
    const name = freshName();
    await scratch.db.createCollection(name, { capped: true, size: 4096, max: 3 });
    const [info] = (await scratch.db.listCollections({ name }).toArray()) as Document[];
    expect(info.options).toMatchObject({ capped: true, size: 4096, max: 3 });
    const coll = scratch.db.collection<Doc>(name);
    for (let i = 1; i <= 5; i++) await coll.insertOne({ _id: i });
    expect((await coll.find().toArray()).map((d) => d._id)).toEqual([3, 4, 5]);
    expect((await serverError(scratch.db.command({ create: freshName(), capped: true }))).code).toBe(72);
  });

  it('refuses invalid collection names (InvalidNamespace)', async () => {
    expect(await serverError(scratch.db.command({ create: '' }))).toMatchObject({ code: 73 });
    expect(await serverError(scratch.db.command({ create: 'bad$name' }))).toMatchObject({ code: 73 });
  });

  it('refuses unknown options', async () => {
    expect(await serverError(scratch.db.command({ create: freshName(), notAnOption: 1 }))).toMatchObject({ code: 40415 });
  });
});

describe('listDatabases', () => {
  it('lists a database once it has a collection, with sizes', async () => {
    const other = scratch.client.db(uniqueDbName('ddl_list'));
    expect(await databaseNames()).not.toContain(other.databaseName);
    await other.collection('c').insertOne({ a: 1 });
    const { databases, totalSize } = await scratch.client.db('admin').admin().listDatabases();
    const entry = databases.find((d) => d.name === other.databaseName);
    expect(entry).toMatchObject({ name: other.databaseName, empty: false });
    expect(typeof entry!.sizeOnDisk).toBe('number');
    expect(typeof totalSize).toBe('number');
    await other.dropDatabase();
    expect(await databaseNames()).not.toContain(other.databaseName);
  });

  it('filters by name', async () => {
    await scratch.db.createCollection(freshName());
    const reply = await scratch.client.db('admin').command({ listDatabases: 1, filter: { name: scratch.db.databaseName }, nameOnly: true });
    expect(reply.databases).toEqual([{ name: scratch.db.databaseName }]);
  });

  it('may only run on admin', async () => {
    expect(await serverError(scratch.db.command({ listDatabases: 1 }))).toMatchObject({ code: 13, codeName: 'Unauthorized' });
  });
});

describe('dbStats', () => {
  it('counts the collections, documents and indexes of a database', async () => {
    const other = scratch.client.db(uniqueDbName('ddl_stats'));
    await other.collection('a').insertMany([{ x: 1 }, { x: 2 }]);
    await other.collection('b').insertOne({ y: 'z' });
    await other.collection('b').createIndex({ y: 1 });
    const stats = await other.stats();
    expect(stats).toMatchObject({ db: other.databaseName, collections: 2, objects: 3, indexes: 3, ok: 1 });
    expect(stats.dataSize).toBeGreaterThan(0);
    await other.dropDatabase();
  });
});

describe('drop and dropDatabase', () => {
  it('drops a collection with its documents and indexes', async () => {
    const name = freshName();
    const coll = scratch.db.collection(name);
    await coll.insertMany([{ a: 1 }, { a: 2 }]);
    await coll.createIndex({ a: 1 });
    const reply = await scratch.db.command({ drop: name });
    expect(reply).toMatchObject({ ok: 1, nIndexesWas: 2, ns: `${scratch.db.databaseName}.${name}` });
    expect(await collectionNames()).not.toContain(name);
    expect(await coll.countDocuments()).toBe(0);
    expect(await serverError(coll.listIndexes().toArray())).toMatchObject({ code: 26 });
  });

  it('succeeds for a collection that does not exist', async () => {
    expect((await scratch.db.command({ drop: 'never_created' })).ok).toBe(1);
  });

  it('drops a whole database', async () => {
    const other = scratch.client.db(uniqueDbName('ddl_drop'));
    await other.collection('a').insertOne({ x: 1 });
    await other.collection('b').insertOne({ x: 1 });
    expect(await other.dropDatabase()).toBe(true);
    expect(await collectionNames(other)).toEqual([]);
    expect(await databaseNames()).not.toContain(other.databaseName);
  });

  it('is not allowed in a transaction', async () => {
    const name = freshName();
    await scratch.db.collection(name).insertOne({ a: 1 });
    const session = scratch.client.startSession();
    try {
      session.startTransaction();
      await scratch.db.collection(name).findOne({}, { session });
      const err = await serverError(scratch.db.command({ drop: name }, { session }));
      expect(err).toMatchObject({ code: 263, codeName: 'OperationNotSupportedInTransaction' });
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    expect(await collectionNames()).toContain(name);
  });
});

describe('renameCollection', () => {
  it('moves the documents and indexes to the new name', async () => {
    const from = freshName();
    const to = freshName();
    await scratch.db.collection<Doc>(from).insertMany([{ _id: 1 }, { _id: 2 }]);
    await scratch.db.collection<Doc>(from).createIndex({ k: 1 }, { name: 'k_1' });
    await scratch.db.renameCollection(from, to);
    const names = await collectionNames();
    expect(names).toContain(to);
    expect(names).not.toContain(from);
    expect(await scratch.db.collection<Doc>(to).find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1 }, { _id: 2 }]);
    expect((await scratch.db.collection<Doc>(to).listIndexes().toArray()).map((i: Document) => i.name).sort()).toEqual(['_id_', 'k_1']);
  });

  it('replaces an existing target only with dropTarget', async () => {
    const from = freshName();
    const to = freshName();
    await scratch.db.collection<Doc>(from).insertOne({ _id: 'from' });
    await scratch.db.collection<Doc>(to).insertOne({ _id: 'to' });
    const admin = scratch.client.db('admin');
    const exists = await serverError(admin.command({ renameCollection: `${scratch.db.databaseName}.${from}`, to: `${scratch.db.databaseName}.${to}` }));
    expect(exists).toMatchObject({ code: 48, codeName: 'NamespaceExists' });
    await admin.command({ renameCollection: `${scratch.db.databaseName}.${from}`, to: `${scratch.db.databaseName}.${to}`, dropTarget: true });
    expect(await scratch.db.collection<Doc>(to).find().toArray()).toEqual([{ _id: 'from' }]);
  });

  it('refuses a missing source, a rename onto itself and non-admin databases', async () => {
    const admin = scratch.client.db('admin');
    const ns = (c: string) => `${scratch.db.databaseName}.${c}`;
    expect(await serverError(admin.command({ renameCollection: ns('nothing_here'), to: ns(freshName()) })))
      .toMatchObject({ code: 26, codeName: 'NamespaceNotFound' });
    const name = freshName();
    await scratch.db.createCollection(name);
    expect(await serverError(admin.command({ renameCollection: ns(name), to: ns(name) })))
      .toMatchObject({ code: 20, codeName: 'IllegalOperation' });
    expect(await serverError(scratch.db.command({ renameCollection: ns(name), to: ns(freshName()) })))
      .toMatchObject({ code: 13, codeName: 'Unauthorized' });
    expect(await serverError(admin.command({ renameCollection: ns(name) }))).toMatchObject({ code: 40414 });
  });
});
