/**
 * Change streams through the stock driver, as mongod 8.0 serves them: every
 * event type at collection, database and cluster level, resume tokens and
 * the three ways to resume, postBatchResumeToken on quiet streams, pre- and
 * post-images, expanded events, the user's pipeline, awaitData getMores
 * that answer as soon as an event arrives, bounded history, and events
 * split by `$changeStreamSplitLargeEvent`.
 */
import {
  Binary,
  Long,
  MongoClient,
  MongoServerError,
  Timestamp,
  UUID,
  type ChangeStream,
  type ChangeStreamDocument,
  type ChangeStreamOptions,
  type Collection,
  type CommandStartedEvent,
  type Db,
  type Document,
  type ResumeToken,
} from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith, driverClient, uniqueDbName } from '../support/backend';
import { WireClient, opMsg, sectionBytes } from './wire-client';

type Event = ChangeStreamDocument & Document;
/** Specs write documents with plain `_id`s of any type. */
type Doc = Document & { _id: number | string };

/** Majority writes are visible to change streams as soon as they are acknowledged, on mongod too. */
const MAJORITY = { writeConcern: { w: 'majority' as const } };
/** Short awaits keep the specs quick; the awaitData spec sets its own. */
const AWAIT_MS = 100;

let client: MongoClient;
let db: Db;
let counter = 0;
const open: ChangeStream[] = [];

beforeAll(async () => {
  client = driverClient();
  await client.connect();
  db = client.db(uniqueDbName('cs'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await db.dropDatabase(MAJORITY);
  await client.close();
});

function freshName(prefix = 'c'): string {
  counter += 1;
  return `${prefix}${counter}`;
}

function collection(name = freshName()): Collection<Doc> {
  return db.collection<Doc>(name, MAJORITY);
}

/** A change stream that exists on the server before the spec writes anything. */
async function started<T extends Document>(
  target: { watch(pipeline?: Document[], options?: ChangeStreamOptions): ChangeStream<T> },
  pipeline: Document[] = [],
  options: ChangeStreamOptions = {},
): Promise<ChangeStream<T>> {
  const stream = target.watch(pipeline, { maxAwaitTimeMS: AWAIT_MS, ...options });
  open.push(stream as unknown as ChangeStream);
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

/** A stream resuming somewhere, left to the spec to read. */
function resumed<T extends Document>(
  target: { watch(pipeline?: Document[], options?: ChangeStreamOptions): ChangeStream<T> },
  options: ChangeStreamOptions,
  pipeline: Document[] = [],
): ChangeStream<T> {
  const stream = target.watch(pipeline, { maxAwaitTimeMS: AWAIT_MS, ...options });
  open.push(stream as unknown as ChangeStream);
  return stream;
}

async function take(stream: ChangeStream<Document>, n: number): Promise<Event[]> {
  const events: Event[] = [];
  for (let i = 0; i < n; i++) events.push((await stream.next()) as Event);
  return events;
}

function hex(binary: Binary): string {
  return Buffer.from(binary.buffer).toString('hex');
}

function tokenOf(event: Document): string {
  return (event._id as { _data: string })._data;
}

function expectIncreasing(tokens: string[]): void {
  for (let i = 1; i < tokens.length; i++) expect(tokens[i] > tokens[i - 1]).toBe(true);
}

async function serverError(promise: Promise<unknown>): Promise<MongoServerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MongoServerError);
  return err as MongoServerError;
}

describe('a collection change stream', () => {
  it('reports insert, update, replace and delete with mongod’s fields, then drop and invalidate', async () => {
    const coll = collection();
    const stream = await started(coll);
    await coll.insertOne({ _id: 1, a: { b: 1 }, d: 'gone soon', arr: ['alpha', 'beta', 'gamma'] });
    await coll.updateOne({ _id: 1 }, { $set: { 'a.b': 2, c: 3 }, $unset: { d: '' } });
    await coll.updateOne({ _id: 1 }, { $push: { arr: 'delta' } } as Document);
    await coll.updateOne({ _id: 1 }, [{ $set: { arr: { $slice: ['$arr', 2] } } }]);
    await coll.replaceOne({ _id: 1 }, { x: 'replaced' });
    await coll.deleteOne({ _id: 1 });
    await coll.drop();
    const events = await take(stream, 8);
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'update', 'update', 'update', 'replace', 'delete', 'drop', 'invalidate']);
    const [insert, update, push, truncate, replace, del, drop, invalidate] = events;
    const ns = { db: db.databaseName, coll: coll.collectionName };

    expect(insert).toMatchObject({ ns, documentKey: { _id: 1 }, fullDocument: { _id: 1, a: { b: 1 }, d: 'gone soon', arr: ['alpha', 'beta', 'gamma'] } });
    expect(insert.clusterTime).toBeInstanceOf(Timestamp);
    expect(insert.wallTime).toBeInstanceOf(Date);
    expect(typeof tokenOf(insert)).toBe('string');
    expect(insert).not.toHaveProperty('collectionUUID');

    expect(update).toMatchObject({ ns, documentKey: { _id: 1 } });
    expect(update).not.toHaveProperty('fullDocument');
    expect(update.updateDescription).toEqual({ updatedFields: { 'a.b': 2, c: 3 }, removedFields: ['d'], truncatedArrays: [] });
    expect(push.updateDescription).toEqual({ updatedFields: { 'arr.3': 'delta' }, removedFields: [], truncatedArrays: [] });
    expect(truncate.updateDescription).toEqual({ updatedFields: {}, removedFields: [], truncatedArrays: [{ field: 'arr', newSize: 2 }] });

    expect(replace).toMatchObject({ ns, documentKey: { _id: 1 }, fullDocument: { _id: 1, x: 'replaced' } });
    expect(del).toMatchObject({ ns, documentKey: { _id: 1 } });
    expect(del).not.toHaveProperty('fullDocument');
    expect(drop).toMatchObject({ ns });
    expect(invalidate).not.toHaveProperty('ns');
    expect(invalidate.clusterTime).toEqual(drop.clusterTime);
    expectIncreasing(events.map(tokenOf));
  });

  it('ends with rename and invalidate when its collection is renamed', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 1 });
    const stream = await started(coll);
    const target = freshName('renamed');
    await coll.rename(target);
    const [rename, invalidate] = await take(stream, 2);
    expect(rename).toMatchObject({
      operationType: 'rename',
      ns: { db: db.databaseName, coll: coll.collectionName },
      to: { db: db.databaseName, coll: target },
    });
    expect(invalidate.operationType).toBe('invalidate');
  });

  it('sees only its own collection', async () => {
    const mine = collection();
    const other = collection();
    const stream = await started(mine);
    await other.insertOne({ _id: 'elsewhere' });
    await mine.insertOne({ _id: 'here' });
    const [event] = await take(stream, 1);
    expect(event.documentKey).toEqual({ _id: 'here' });
  });

  it('reports the writes of a transaction with lsid and txnNumber, one clusterTime, ordered tokens', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 0 });
    const stream = await started(coll);
    const session = client.startSession();
    try {
      await session.withTransaction(async () => {
        await coll.insertMany(Array.from({ length: 150 }, (_, i) => ({ _id: i + 1 })), { session });
        await coll.updateOne({ _id: 0 }, { $set: { touched: true } }, { session });
      });
    } finally {
      await session.endSession();
    }
    const events = await take(stream, 151);
    expect(events.map((e) => e.operationType)).toEqual([...Array(150).fill('insert'), 'update']);
    for (const event of events) {
      expect(event.clusterTime).toEqual(events[0].clusterTime);
      expect(hex((event.lsid as { id: Binary }).id)).toBe(hex(session.id!.id as Binary));
      expect(Long.fromValue(event.txnNumber as number).toNumber()).toBeGreaterThan(0);
    }
    expectIncreasing(events.map(tokenOf));
  });

  it('can be read from a secondary', async () => {
    const coll = collection();
    const stream = await started(coll, [], { readPreference: 'secondary' });
    await coll.insertOne({ _id: 'via secondary' });
    const [event] = await take(stream, 1);
    expect(event.documentKey).toEqual({ _id: 'via secondary' });
  });

  it('answers an awaiting getMore as soon as an event arrives', async () => {
    const monitored = driverClient({ monitorCommands: true });
    try {
      await monitored.connect();
      const coll = monitored.db(db.databaseName).collection<Doc>('prompt', MAJORITY);
      await coll.insertOne({ _id: 'exists' });
      // The await outlasts the spec's timeout: only a prompt answer lets the event arrive in time.
      const stream = coll.watch([], { maxAwaitTimeMS: 120_000 });
      open.push(stream);
      const getMoreStarted = new Promise<void>((resolve) => {
        const listener = (event: CommandStartedEvent) => {
          if (event.commandName !== 'getMore') return;
          monitored.off('commandStarted', listener);
          resolve();
        };
        monitored.on('commandStarted', listener);
      });
      const next = stream.next();
      await getMoreStarted;
      await client.db(db.databaseName).collection<Doc>('prompt', MAJORITY).insertOne({ _id: 'arrives' });
      expect((await next).operationType).toBe('insert');
      await stream.close();
    } finally {
      await monitored.close();
    }
  });
});

describe('database and cluster change streams', () => {
  it('see every collection of the database; drops do not invalidate, dropDatabase does', async () => {
    const dbName = uniqueDbName('csdb');
    const target = client.db(dbName);
    try {
      await target.collection<Doc>('a', MAJORITY).insertOne({ _id: 0 });
      const stream = await started(target);
      await target.collection<Doc>('a', MAJORITY).insertOne({ _id: 1 });
      await target.collection<Doc>('b', MAJORITY).insertOne({ _id: 2 });
      await target.collection('b').drop(MAJORITY);
      await target.collection('a').rename('a2', MAJORITY);
      await target.dropDatabase(MAJORITY);
      const events = await take(stream, 7);
      expect(events.map((e) => e.operationType)).toEqual(['insert', 'insert', 'drop', 'rename', 'drop', 'dropDatabase', 'invalidate']);
      expect(events.map((e) => (e.ns as { coll?: string } | undefined)?.coll)).toEqual(['a', 'b', 'b', 'a', 'a2', undefined, undefined]);
      expect(events[3]).toMatchObject({ to: { db: dbName, coll: 'a2' } });
      expect(events[5].ns).toEqual({ db: dbName });
      expectIncreasing(events.map(tokenOf));
    } finally {
      await target.dropDatabase(MAJORITY);
    }
  });

  it('sees every database and is not invalidated by dropDatabase', async () => {
    const first = client.db(uniqueDbName('csall'));
    const second = client.db(uniqueDbName('csall'));
    const ours = { $match: { 'ns.db': { $in: [first.databaseName, second.databaseName] } } };
    try {
      const stream = await started(client, [ours]);
      await first.collection<Doc>('x', MAJORITY).insertOne({ _id: 1 });
      await second.collection<Doc>('y', MAJORITY).insertOne({ _id: 2 });
      await first.dropDatabase(MAJORITY);
      await second.collection<Doc>('y', MAJORITY).insertOne({ _id: 3 });
      const events = await take(stream, 5);
      expect(events.map((e) => e.operationType)).toEqual(['insert', 'insert', 'drop', 'dropDatabase', 'insert']);
      expect(events.map((e) => (e.ns as { db: string }).db)).toEqual([
        first.databaseName,
        second.databaseName,
        first.databaseName,
        first.databaseName,
        second.databaseName,
      ]);
    } finally {
      await first.dropDatabase(MAJORITY);
      await second.dropDatabase(MAJORITY);
    }
  });
});

describe('resume tokens', () => {
  async function threeEvents(): Promise<{ coll: Collection<Doc>; events: Event[] }> {
    const coll = collection();
    const stream = await started(coll);
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    return { coll, events: await take(stream, 3) };
  }

  it('resumeAfter an event delivers what followed it', async () => {
    const { coll, events } = await threeEvents();
    const stream = resumed(coll, { resumeAfter: events[0]._id });
    const after = await take(stream, 2);
    expect(after.map((e) => e.documentKey)).toEqual([{ _id: 2 }, { _id: 3 }]);
    expect(after.map(tokenOf)).toEqual(events.slice(1).map(tokenOf));
  });

  it('startAtOperationTime starts at the event with that cluster time', async () => {
    const { coll, events } = await threeEvents();
    const stream = resumed(coll, { startAtOperationTime: events[1].clusterTime as Timestamp });
    const after = await take(stream, 2);
    expect(after.map((e) => e.documentKey)).toEqual([{ _id: 2 }, { _id: 3 }]);
  });

  it('postBatchResumeToken advances on a quiet, filtered stream and resumes after what it passed', async () => {
    const coll = collection();
    const stream = await started(coll, [{ $match: { operationType: 'delete' } }]);
    const quiet = stream.resumeToken as { _data: string };
    expect(typeof quiet._data).toBe('string');
    await coll.insertMany([{ _id: 1 }, { _id: 2 }], MAJORITY);
    expect(await stream.tryNext()).toBeNull();
    const advanced = stream.resumeToken as { _data: string };
    expect(advanced._data > quiet._data).toBe(true);

    await coll.deleteOne({ _id: 1 });
    const [deleted] = await take(stream, 1);
    expect(tokenOf(deleted) > advanced._data).toBe(true);

    // The same stream resumed from the quiet token replays nothing it had passed.
    const again = resumed(coll, { resumeAfter: advanced }, [{ $match: { operationType: 'delete' } }]);
    const [next] = await take(again, 1);
    expect(next.operationType).toBe('delete');
  });

  it('serves batches of batchSize, each with the postBatchResumeToken of its last event', async () => {
    const coll = collection();
    const stream = await started(coll);
    await coll.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i })));
    const events = await take(stream, 5);
    const start = { resumeAfter: events[0]._id };
    const opened = await db.command({ aggregate: coll.collectionName, pipeline: [{ $changeStream: start }], cursor: { batchSize: 0 } });
    const cursor = opened.cursor as Document;
    try {
      expect(cursor.firstBatch).toEqual([]);
      expect(cursor.postBatchResumeToken).toEqual(events[0]._id);
      const more = await db.command({ getMore: cursor.id, collection: coll.collectionName, batchSize: 2 });
      const batch = (more.cursor as Document).nextBatch as Document[];
      expect(batch.map((e) => e.documentKey)).toEqual([{ _id: 1 }, { _id: 2 }]);
      expect((more.cursor as Document).postBatchResumeToken).toEqual(batch[1]._id);
    } finally {
      await db.command({ killCursors: coll.collectionName, cursors: [cursor.id] });
    }
  });

  it('refuses resumeAfter an invalidate, and startAfter it continues on the namespace', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 1 });
    const stream = await started(coll);
    await coll.drop();
    const [, invalidate] = await take(stream, 2);
    expect(invalidate.operationType).toBe('invalidate');

    const refused = resumed(coll, { resumeAfter: invalidate._id as ResumeToken });
    const err = await serverError(refused.next());
    expect(err.code).toBe(260);
    expect(err.codeName).toBe('InvalidResumeToken');

    const after = resumed(coll, { startAfter: invalidate._id as ResumeToken });
    await coll.insertOne({ _id: 'recreated' });
    const [insert] = await take(after, 1);
    expect(insert).toMatchObject({ operationType: 'insert', documentKey: { _id: 'recreated' } });
  });

  it('reports malformed tokens and conflicting resume options as mongod does', async () => {
    const coll = collection();
    const aggregate = (stage: Document) =>
      serverError(db.command({ aggregate: coll.collectionName, pipeline: [{ $changeStream: stage }], cursor: {} }));
    expect((await aggregate({ resumeAfter: { _data: 42 } })).code).toBe(40647);
    expect((await aggregate({ resumeAfter: { _data: 'zz' } })).code).toBe(9);
    const { events } = await threeEvents();
    const both = await aggregate({ resumeAfter: events[0]._id, startAfter: events[0]._id });
    expect(both.code).toBe(50865);
    const withTime = await aggregate({ resumeAfter: events[0]._id, startAtOperationTime: events[0].clusterTime });
    expect(withTime.code).toBe(40674);
  });
});

describe('full documents and pre-images', () => {
  async function withImages(): Promise<Collection<Doc>> {
    const name = freshName('images');
    await db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true }, ...MAJORITY });
    return collection(name);
  }

  it('updateLookup shows the document as it is when the event is read, or null once it is gone', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 1, n: 0 });
    await coll.insertOne({ _id: 2, n: 0 });
    const stream = await started(coll, [{ $match: { operationType: 'update' } }], { fullDocument: 'updateLookup' });
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
    await coll.updateOne({ _id: 2 }, { $inc: { n: 1 } });
    await coll.deleteOne({ _id: 2 });
    const [kept, deleted] = await take(stream, 2);
    expect(kept.fullDocument).toEqual({ _id: 1, n: 1 });
    expect(deleted).toHaveProperty('fullDocument', null);
  });

  it('whenAvailable and required give post- and pre-images where changeStreamPreAndPostImages is enabled', async () => {
    const coll = await withImages();
    await coll.insertOne({ _id: 1, n: 0 });
    const stream = await started(coll, [], { fullDocument: 'required', fullDocumentBeforeChange: 'required' });
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
    await coll.replaceOne({ _id: 1 }, { m: 5 });
    await coll.deleteOne({ _id: 1 });
    const [update, replace, del] = await take(stream, 3);
    expect(update).toMatchObject({ fullDocument: { _id: 1, n: 1 }, fullDocumentBeforeChange: { _id: 1, n: 0 } });
    expect(replace).toMatchObject({ fullDocument: { _id: 1, m: 5 }, fullDocumentBeforeChange: { _id: 1, n: 1 } });
    expect(del).toMatchObject({ fullDocumentBeforeChange: { _id: 1, m: 5 } });
    expect(del).not.toHaveProperty('fullDocument');
  });

  it('whenAvailable gives null without images, required fails with NoMatchingDocument', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 1, n: 0 });
    const lenient = await started(coll, [], { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' });
    const strict = await started(coll, [], { fullDocumentBeforeChange: 'required' });
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
    const [update] = await take(lenient, 1);
    expect(update).toHaveProperty('fullDocument', null);
    expect(update).toHaveProperty('fullDocumentBeforeChange', null);
    const err = await serverError(strict.next());
    expect(err.code).toBe(47);
    expect(err.message).toMatch(/require a pre-image .* but the pre-image was not found/);
  });

  it('images start with the collMod that enables them', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 1, n: 0 });
    const stream = await started(coll, [], { fullDocumentBeforeChange: 'whenAvailable' });
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
    await db.command({ collMod: coll.collectionName, changeStreamPreAndPostImages: { enabled: true } });
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
    const [before, after] = await take(stream, 2);
    expect(before).toHaveProperty('fullDocumentBeforeChange', null);
    expect(after).toHaveProperty('fullDocumentBeforeChange', { _id: 1, n: 1 });
  });
});

describe('expanded events', () => {
  it('adds create, createIndexes and dropIndexes with operationDescription and collectionUUID', async () => {
    const name = freshName();
    const expanded = await started(db, [{ $match: { 'ns.coll': name } }], { showExpandedEvents: true });
    const classic = await started(db, [{ $match: { 'ns.coll': name } }]);
    await db.createCollection(name, MAJORITY);
    const coll = collection(name);
    await coll.createIndex({ a: 1 });
    await coll.insertOne({ _id: 1, a: 1 });
    await coll.updateOne({ _id: 1 }, { $set: { a: 2 } });
    await coll.dropIndex('a_1', MAJORITY);
    await coll.drop(MAJORITY);

    const events = await take(expanded, 6);
    expect(events.map((e) => e.operationType)).toEqual(['create', 'createIndexes', 'insert', 'update', 'dropIndexes', 'drop']);
    const [create, createIndexes, insert, update, dropIndexes, drop] = events;
    expect(create.collectionUUID).toBeInstanceOf(UUID);
    for (const event of events) expect(event.collectionUUID).toEqual(create.collectionUUID);
    expect(create).toMatchObject({ ns: { db: db.databaseName, coll: name }, nsType: 'collection' });
    expect(create.operationDescription).toMatchObject({ idIndex: { key: { _id: 1 }, name: '_id_' } });
    expect(createIndexes.operationDescription).toMatchObject({ indexes: [{ key: { a: 1 }, name: 'a_1' }] });
    expect(dropIndexes.operationDescription).toMatchObject({ indexes: [{ key: { a: 1 }, name: 'a_1' }] });
    expect(insert.documentKey).toEqual({ _id: 1 });
    expect(update.updateDescription).toEqual({ updatedFields: { a: 2 }, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} });
    expect(drop.ns).toEqual({ db: db.databaseName, coll: name });

    const classicEvents = await take(classic, 3);
    expect(classicEvents.map((e) => e.operationType)).toEqual(['insert', 'update', 'drop']);
    expect(classicEvents[0]).not.toHaveProperty('collectionUUID');
    expect(classicEvents[1].updateDescription).not.toHaveProperty('disambiguatedPaths');
  });
});

describe('the pipeline after $changeStream', () => {
  it('filters and reshapes events', async () => {
    const coll = collection();
    const stream = await started(coll, [
      { $match: { 'fullDocument.keep': true } },
      { $project: { operationType: 1, 'fullDocument.n': 1 } },
      { $addFields: { doubled: { $multiply: ['$fullDocument.n', 2] } } },
    ]);
    await coll.insertMany([
      { _id: 1, keep: false, n: 1 },
      { _id: 2, keep: true, n: 2 },
    ]);
    const [event] = await take(stream, 1);
    expect(event).toEqual({ _id: event._id, operationType: 'insert', fullDocument: { n: 2 }, doubled: 4 });
  });

  it('fails the stream when the pipeline changes _id', async () => {
    const coll = collection();
    const stream = await started(coll, [{ $set: { _id: 'mine' } }]);
    await coll.insertOne({ _id: 1 });
    const err = await serverError(stream.next());
    expect(err.code).toBe(280);
    expect(err.message).toMatch(/_id field, which contains the resume token, was modified/);
  });

  it('rejects stages a change stream cannot run', async () => {
    const coll = collection();
    const run = (pipeline: Document[], dbName = db.databaseName, target: string | 1 = coll.collectionName) =>
      serverError(client.db(dbName).command({ aggregate: target, pipeline, cursor: {} }));
    expect((await run([{ $changeStream: {} }, { $group: { _id: null } }])).code).toBe(20);
    expect((await run([{ $changeStream: { unknownOption: true } }])).code).toBe(40415);
    expect((await run([{ $changeStream: {} }, { $match: {} }, { $changeStream: {} }])).code).toBe(40602);
    expect((await run([{ $changeStream: { fullDocument: 'sometimes' } }])).code).toBe(2);
    expect((await run([{ $changeStream: { allChangesForCluster: true } }])).code).toBe(72);
    expect((await run([{ $changeStream: {} }], 'admin', 1)).code).toBe(73);
    expect((await run([{ $changeStream: {} }, { $changeStreamSplitLargeEvent: {} }, { $match: {} }])).code).toBe(7182802);
  });

  it('cannot run inside a transaction', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 1 });
    const session = client.startSession();
    try {
      session.startTransaction();
      await coll.findOne({ _id: 1 }, { session });
      const err = await serverError(
        db.command({ aggregate: coll.collectionName, pipeline: [{ $changeStream: {} }], cursor: {} }, { session }),
      );
      expect(err.code).toBe(263);
      expect(err.codeName).toBe('OperationNotSupportedInTransaction');
    } finally {
      await session.abortTransaction().catch(() => undefined);
      await session.endSession();
    }
  });
});

describe('large events', () => {
  const NINE_MB = 9 * 1024 * 1024;

  async function bigReplace(pipeline: Document[]): Promise<{ coll: Collection<Doc>; stream: ChangeStream<Document> }> {
    const name = freshName('large');
    await db.createCollection(name, { changeStreamPreAndPostImages: { enabled: true }, ...MAJORITY });
    const coll = collection(name);
    await coll.insertOne({ _id: 1, blob: 'a'.repeat(NINE_MB) });
    const stream = await started(coll, [{ $match: { operationType: 'replace' } }, ...pipeline], {
      fullDocumentBeforeChange: 'required',
    });
    await coll.replaceOne({ _id: 1 }, { blob: 'b'.repeat(NINE_MB) });
    return { coll, stream };
  }

  it('$changeStreamSplitLargeEvent splits an event over 16 MiB into fragments with their own tokens', async () => {
    const { coll, stream } = await bigReplace([{ $changeStreamSplitLargeEvent: {} }]);
    const fragments = await take(stream, 2);
    expect(fragments.map((f) => f.splitEvent)).toEqual([
      { fragment: 1, of: 2 },
      { fragment: 2, of: 2 },
    ]);
    expectIncreasing(fragments.map(tokenOf));
    const merged: Document = Object.assign({}, ...fragments);
    expect(merged.operationType).toBe('replace');
    expect((merged.fullDocument as Document).blob).toHaveLength(NINE_MB);
    expect((merged.fullDocumentBeforeChange as Document).blob).toHaveLength(NINE_MB);

    // Resuming after the first fragment delivers the second.
    const again = resumed(coll, { resumeAfter: fragments[0]._id, fullDocumentBeforeChange: 'required' }, [
      { $match: { operationType: 'replace' } },
      { $changeStreamSplitLargeEvent: {} },
    ]);
    const [second] = await take(again, 1);
    expect(tokenOf(second)).toBe(tokenOf(fragments[1]));
    expect(second.splitEvent).toEqual({ fragment: 2, of: 2 });
  });

  it('without the split stage an event over 16 MiB fails with BSONObjectTooLarge', async () => {
    const { stream } = await bigReplace([]);
    const err = await serverError(stream.next());
    expect(err.code).toBe(10334);
  });
});

describeWith(['failCommand'], 'resuming after errors', () => {
  it.each([
    ['HostUnreachable, which the server labels ResumableChangeStreamError', 6],
    ['CursorNotFound', 43],
  ])('resumes after %s on getMore with no event lost or repeated', async (_what, errorCode) => {
    const appName = `cs-resume-${process.pid}-${errorCode}`;
    // Under jest the driver cannot import('os') for its handshake metadata and would send no appName.
    const resilient = driverClient({ appName, monitorCommands: true });
    let aggregates = 0;
    resilient.on('commandStarted', (e: CommandStartedEvent) => {
      if (e.commandName === 'aggregate') aggregates += 1;
    });
    try {
      const coll = resilient.db(db.databaseName).collection<Doc>(freshName('resume'), MAJORITY);
      const stream = await started(coll);
      await coll.insertOne({ _id: 1 });
      expect((await take(stream, 1))[0].documentKey).toEqual({ _id: 1 });
      await client.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], errorCode, appName },
      });
      await coll.insertMany([{ _id: 2 }, { _id: 3 }]);
      const events = await take(stream, 2);
      await coll.insertOne({ _id: 4 });
      events.push(...(await take(stream, 1)));
      expect(events.map((e) => e.documentKey)).toEqual([{ _id: 2 }, { _id: 3 }, { _id: 4 }]);
      expect(aggregates).toBe(2);
    } finally {
      await client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
      await Promise.all(open.splice(0).map((s) => s.close()));
      await resilient.close();
    }
  });
});

describeWith(['historyControl'], 'bounded history', () => {
  const HISTORY = 8;
  let rs: ReplicaSet;
  let own: MongoClient;

  beforeEach(async () => {
    rs = await ReplicaSet.start({ members: 1, historySize: HISTORY });
    own = new MongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
    await own.connect();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await own.close();
    await rs.close();
  });

  const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ _id: from + i }));

  it('resuming from a point older than the retained history fails with ChangeStreamHistoryLost', async () => {
    const coll = own.db('history').collection<Doc>('lost');
    const stream = await started(coll);
    await coll.insertMany(many(1, 2));
    const [first] = await take(stream, 2);
    await coll.insertMany(many(10, HISTORY + 2));

    const byToken = await serverError(resumed(coll, { resumeAfter: first._id }).next());
    expect(byToken.code).toBe(286);
    expect(byToken.codeName).toBe('ChangeStreamHistoryLost');
    expect(byToken.message).toBe('Resume of change stream was not possible, as the resume point may no longer be in the oplog.');
    const byTime = await serverError(resumed(coll, { startAtOperationTime: first.clusterTime as Timestamp }).next());
    expect(byTime.code).toBe(286);

    // The open stream that fell behind cannot go on either: its oplog position was deleted.
    const behind = await serverError(stream.next());
    expect(behind.code).toBe(136);
  });

  it('resumes from the newest position when nothing was trimmed', async () => {
    const coll = own.db('history').collection<Doc>('newest');
    const probe = await started(coll);
    const resumedStream = await started(coll, [], { resumeAfter: probe.resumeToken });
    await coll.insertOne({ _id: 1 });
    expect((await take(resumedStream, 1))[0].documentKey).toEqual({ _id: 1 });
  });

  it('resumes from the newest position after older history was trimmed', async () => {
    const coll = own.db('history').collection<Doc>('trimmed');
    await coll.insertMany(many(0, HISTORY * 2));
    const probe = await started(coll);
    const resumedStream = await started(coll, [], { resumeAfter: probe.resumeToken });
    await coll.deleteOne({ _id: 0 });
    expect((await take(resumedStream, 1))[0].operationType).toBe('delete');
  });
});

describeWith(['topologyControl'], 'server resources of an awaiting getMore', () => {
  let rs: ReplicaSet;
  let own: MongoClient;

  beforeEach(async () => {
    rs = await ReplicaSet.start({ members: 1 });
    own = new MongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
    await own.connect();
  });

  afterEach(async () => {
    await own.close();
    await rs.close();
  });

  const tick = () => new Promise((resolve) => setImmediate(resolve));

  /** Starts a getMore that would wait a minute and resolves once the server is waiting on it. */
  async function awaiting(): Promise<{ stream: ChangeStream<Document>; next: Promise<unknown> }> {
    const stream = own.db('resources').collection('waits').watch([], { maxAwaitTimeMS: 60_000 });
    const next = stream.next().catch((err: unknown) => err);
    while (rs.store.listenerCount('oplog') === 0) await tick();
    return { stream, next };
  }

  it('killCursors ends the wait at once and leaves no listener behind', async () => {
    const { stream, next } = await awaiting();
    expect(rs.members[0].cursors.size).toBe(1);
    await stream.close();
    await next;
    expect(rs.members[0].cursors.size).toBe(0);
    expect(rs.store.listenerCount('oplog')).toBe(0);
  });

  it('a client that disconnects during the wait takes the cursor with it', async () => {
    // A raw connection: the driver would clean up with killCursors itself and hide what the server does.
    const member = rs.members[0];
    const raw = await WireClient.open(member.address);
    const opened = await raw.command('resources', { aggregate: 'waits', pipeline: [{ $changeStream: {} }], cursor: {} });
    const id = (opened.doc.cursor as Document).id as Long;
    raw.send(opMsg(sectionBytes([{ kind: 0, doc: { getMore: id, collection: 'waits', maxTimeMS: 60_000, $db: 'resources' } }])));
    while (rs.store.listenerCount('oplog') === 0) await tick();
    raw.close();
    // Sockets report their close on a later turn; a cursor that outlived it would keep this loop going past the timeout.
    while (member.cursors.size > 0) await tick();
    expect(rs.store.listenerCount('oplog')).toBe(0);
  });
});
