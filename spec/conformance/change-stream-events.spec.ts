/**
 * Change events as mongod 8.0 writes them, where a consumer reads the
 * details: the postBatchResumeToken of a batch that ends with an event, the
 * updateDescription of each kind of update (whole fields, dotted paths,
 * positional elements, appends, removals, truncations) with its
 * disambiguatedPaths, and the expanded `modify` event of collMod.
 */
import type { ChangeStream, ChangeStreamOptions, Collection, Document } from 'mongodb';
import { scratchDatabase, type AnyIdDoc } from '../support/scratch';

const scratch = scratchDatabase('cse');
const MAJORITY = { writeConcern: { w: 'majority' as const } };
const open: ChangeStream[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function watching(coll: Collection<AnyIdDoc>, options: ChangeStreamOptions = {}): Promise<ChangeStream> {
  const stream = coll.watch([], { maxAwaitTimeMS: 100, ...options });
  open.push(stream);
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

async function collection(docs: Document[] = []): Promise<Collection<AnyIdDoc>> {
  const name = scratch.freshName();
  await scratch.db.createCollection(name, MAJORITY);
  const coll = scratch.db.collection<AnyIdDoc>(name, MAJORITY);
  if (docs.length > 0) await coll.insertMany(docs);
  return coll;
}

describe('postBatchResumeToken', () => {
  it('after a batch that ends with an event is that event’s _id', async () => {
    const coll = await collection();
    const { cursor } = await scratch.db.command({
      aggregate: coll.collectionName,
      pipeline: [{ $changeStream: {} }],
      cursor: { batchSize: 0 },
    });
    try {
      await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
      const reply = await scratch.db.command({ getMore: cursor.id, collection: coll.collectionName, batchSize: 3, maxTimeMS: 1000 });
      const batch = reply.cursor.nextBatch as Document[];
      expect(batch).toHaveLength(3);
      expect(reply.cursor.postBatchResumeToken).toEqual(batch[2]._id);
    } finally {
      await scratch.db.command({ killCursors: coll.collectionName, cursors: [cursor.id] });
    }
  });
});

describe('updateDescription', () => {
  async function described(doc: Document, update: Document | Document[], options: ChangeStreamOptions = {}): Promise<Document> {
    const coll = await collection([{ _id: 1, ...doc }]);
    const stream = await watching(coll, options);
    await coll.updateOne({ _id: 1 }, update);
    return ((await stream.next()) as Document).updateDescription as Document;
  }

  it('a field set as a whole is updated as a whole', async () => {
    expect(await described({ a: { c: 1 } }, { $set: { a: { b: 1 } } })).toEqual({
      updatedFields: { a: { b: 1 } },
      removedFields: [],
      truncatedArrays: [],
    });
  });

  it('a dotted path is updated by that path', async () => {
    expect(await described({ a: { c: 1 } }, { $set: { 'a.b': 2 } })).toMatchObject({ updatedFields: { 'a.b': 2 } });
  });

  it('$unset is a removed field and $inc an updated one', async () => {
    expect(await described({ a: 1, n: 1 }, { $unset: { a: '' }, $inc: { n: 1 } })).toEqual({
      updatedFields: { n: 2 },
      removedFields: ['a'],
      truncatedArrays: [],
    });
  });

  it('$push names the appended element; a filtered positional update the element it reached', async () => {
    expect(await described({ arr: [1, 2] }, { $push: { arr: 3 } })).toMatchObject({ updatedFields: { 'arr.2': 3 } });
    const coll = await collection([{ _id: 1, arr: [{ x: 1 }, { x: 2 }] }]);
    const stream = await watching(coll);
    await coll.updateOne({ _id: 1 }, { $set: { 'arr.$[e].x': 5 } }, { arrayFilters: [{ 'e.x': 2 }] });
    expect(((await stream.next()) as Document).updateDescription.updatedFields).toEqual({ 'arr.1.x': 5 });
  });

  it('a pipeline update that shortens an array reports it in truncatedArrays', async () => {
    const description = await described({ arr: [1, 2, 3, 4] }, [{ $set: { arr: { $slice: ['$arr', 2] } } }]);
    expect(description).toEqual({ updatedFields: {}, removedFields: [], truncatedArrays: [{ field: 'arr', newSize: 2 }] });
  });

  it('spells out a numeric field name of a subdocument in disambiguatedPaths (showExpandedEvents)', async () => {
    const description = await described({ a: { 0: 'y' }, arr: [1, 2] }, { $set: { 'a.0': 'x', 'arr.1': 5 } }, { showExpandedEvents: true });
    expect(description.updatedFields).toEqual({ 'a.0': 'x', 'arr.1': 5 });
    expect(description.disambiguatedPaths).toEqual({ 'a.0': ['a', '0'] });
  });

  it('shows no disambiguatedPaths without showExpandedEvents', async () => {
    const description = await described({ a: { 0: 'y' } }, { $set: { 'a.0': 'x' } });
    expect(description).not.toHaveProperty('disambiguatedPaths');
  });
});

describe('the modify event', () => {
  it('collMod is a modify event with what changed and the options before, with showExpandedEvents only', async () => {
    const coll = await collection();
    const expanded = await watching(coll, { showExpandedEvents: true });
    const classic = await watching(coll);
    await scratch.db.command({ collMod: coll.collectionName, changeStreamPreAndPostImages: { enabled: true } });
    await coll.insertOne({ _id: 'after' });
    const modify = (await expanded.next()) as Document;
    expect(modify).toMatchObject({
      operationType: 'modify',
      ns: { db: scratch.db.databaseName, coll: coll.collectionName },
      operationDescription: { changeStreamPreAndPostImages: { enabled: true } },
    });
    expect(modify.stateBeforeChange.collectionOptions.uuid).toEqual(modify.collectionUUID);
    expect(((await expanded.next()) as Document).operationType).toBe('insert');
    expect(((await classic.next()) as Document).operationType).toBe('insert');
  });
});
