/**
 * Logical sessions: each transaction works on its own snapshot, its
 * uncommitted writes are seen by itself and by no other session; killing a
 * session aborts its transaction; causal consistency carries operationTime.
 */
import { MongoClient, type ClientSession } from 'mongodb';
import { driverClient, uniqueDbName } from '../support/backend';

/** Documents with the plain `_id`s these specs use. */
interface Doc {
  _id: string | number;
  // Free-form fields, so $inc and $set type-check.
  [field: string]: any;
}

describe('sessions on the run backend', () => {
  let client: MongoClient;
  const dbName = uniqueDbName('sessions');
  const sessions: ClientSession[] = [];

  const session = () => {
    const s = client.startSession();
    sessions.push(s);
    return s;
  };
  const coll = (name: string) => client.db(dbName).collection<Doc>(name);
  const ids = async (name: string, s?: ClientSession) =>
    (await coll(name).find({}, { session: s, sort: { _id: 1 } }).toArray()).map((d) => d._id);

  beforeAll(async () => {
    client = driverClient();
    await client.connect();
  });

  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.endSession();
  });

  afterAll(async () => {
    await client.db(dbName).dropDatabase();
    await client.close();
  });

  it('keeps uncommitted writes to the transaction that made them', async () => {
    await coll('iso').insertOne({ _id: 'committed' });
    const a = session();
    const b = session();
    a.startTransaction();
    await coll('iso').insertOne({ _id: 'a-only' }, { session: a });
    await coll('iso').updateOne({ _id: 'committed' }, { $set: { by: 'a' } }, { session: a });

    expect(await ids('iso', a)).toEqual(['a-only', 'committed']);
    expect(await coll('iso').findOne({ _id: 'committed' }, { session: a })).toEqual({ _id: 'committed', by: 'a' });
    expect(await ids('iso', b)).toEqual(['committed']);
    expect(await ids('iso')).toEqual(['committed']);
    expect(await coll('iso').findOne({ _id: 'committed' })).toEqual({ _id: 'committed' });

    await a.commitTransaction();
    expect(await ids('iso', b)).toEqual(['a-only', 'committed']);
    expect(await coll('iso').findOne({ _id: 'committed' })).toEqual({ _id: 'committed', by: 'a' });
  });

  it('keeps two open transactions apart', async () => {
    const a = session();
    const b = session();
    a.startTransaction();
    b.startTransaction();
    await coll('two').insertOne({ _id: 'a' }, { session: a });
    await coll('two').insertOne({ _id: 'b' }, { session: b });
    expect(await ids('two', a)).toEqual(['a']);
    expect(await ids('two', b)).toEqual(['b']);
    await a.commitTransaction();
    await b.abortTransaction();
    expect(await ids('two')).toEqual(['a']);
  });

  it('reads from the snapshot taken at its first statement, in every collection', async () => {
    await coll('snap-a').insertOne({ _id: 1 });
    await coll('snap-b').insertOne({ _id: 1 });
    const a = session();
    a.startTransaction();
    expect(await ids('snap-a', a)).toEqual([1]);
    // Committed after the snapshot, in a collection the transaction has not read yet.
    await coll('snap-b').insertOne({ _id: 2 });
    await coll('snap-b').updateOne({ _id: 1 }, { $set: { late: true } });
    await coll('snap-a').deleteOne({ _id: 1 });
    expect(await ids('snap-b', a)).toEqual([1]);
    expect(await coll('snap-b').findOne({ _id: 1 }, { session: a })).toEqual({ _id: 1 });
    expect(await ids('snap-a', a)).toEqual([1]);
    await a.commitTransaction();
    expect(await ids('snap-b')).toEqual([1, 2]);
  });

  it('sees its own deletes and updates before commit', async () => {
    await coll('own').insertMany([{ _id: 1, n: 1 }, { _id: 2, n: 2 }]);
    const a = session();
    a.startTransaction();
    await coll('own').deleteOne({ _id: 1 }, { session: a });
    await coll('own').updateOne({ _id: 2 }, { $inc: { n: 10 } }, { session: a });
    expect(await coll('own').find({}, { session: a }).toArray()).toEqual([{ _id: 2, n: 12 }]);
    expect(await coll('own').countDocuments({}, { session: a })).toBe(1);
    await a.abortTransaction();
    expect(await coll('own').find({}, { sort: { _id: 1 } }).toArray()).toEqual([{ _id: 1, n: 1 }, { _id: 2, n: 2 }]);
  });

  it('aborts the open transaction of a killed session', async () => {
    const a = session();
    a.startTransaction();
    await coll('killed').insertOne({ _id: 'x' }, { session: a });
    await client.db('admin').command({ killSessions: [a.id] });
    await expect(a.commitTransaction()).rejects.toMatchObject({ code: 251, codeName: 'NoSuchTransaction' });
    expect(await ids('killed')).toEqual([]);
  });

  it('advances operationTime so a causally consistent read sees the session’s write', async () => {
    const a = client.startSession({ causalConsistency: true });
    sessions.push(a);
    await coll('causal').insertOne({ _id: 'c' }, { session: a });
    expect(a.operationTime).toBeDefined();
    const seen = await coll('causal').findOne({ _id: 'c' }, { session: a, readPreference: 'secondaryPreferred' });
    expect(seen).toEqual({ _id: 'c' });
  });
});
