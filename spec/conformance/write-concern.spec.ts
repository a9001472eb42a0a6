/**
 * Write concern as a replica set answers it: a `w` larger than the set's
 * data-bearing members is UnsatisfiableWriteConcern (100), and a `w` the
 * responding members cannot meet waits `wtimeout` and is
 * WriteConcernTimeout (64); both as a writeConcernError beside a write that
 * did happen.
 */
import { MongoClient, MongoWriteConcernError } from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith } from '../support/backend';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('wc');

describe('write concern', () => {
  it('w larger than the members is UnsatisfiableWriteConcern, and the write is done', async () => {
    const coll = await scratch.fresh();
    const error = await coll.insertOne({ _id: 'w50' }, { writeConcern: { w: 50 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoWriteConcernError);
    expect(error).toMatchObject({ code: 100 });
    expect(await coll.countDocuments({ _id: 'w50' })).toBe(1);
  });

  it('w majority with a wtimeout is met by a healthy set', async () => {
    const coll = await scratch.fresh();
    await coll.insertOne({ _id: 'm' }, { writeConcern: { w: 'majority', wtimeoutMS: 5000 } });
    expect(await coll.countDocuments()).toBe(1);
  });
});

describeWith(['topologyControl'], 'write concern with members down (a set of its own)', () => {
  let rs: ReplicaSet;
  let client: MongoClient;

  beforeAll(async () => {
    rs = await ReplicaSet.start({ members: 3 });
    client = new MongoClient(rs.uri, { serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    for (const m of rs.members.filter((m) => m.role === 'secondary')) await rs.setResponding(m, false);
  });

  afterAll(async () => {
    await client.close();
    await rs.close();
  });

  it.each([
    ['w: 3', { w: 3, wtimeoutMS: 300 }],
    ['w: majority', { w: 'majority' as const, wtimeoutMS: 300 }],
  ])('%s waits wtimeout for members that do not answer, then is WriteConcernTimeout', async (_what, writeConcern) => {
    const coll = client.db('wc').collection<{ _id: string }>('down');
    const started = Date.now();
    const id = `doc-${String(writeConcern.w)}`;
    const error = await coll.insertOne({ _id: id }, { writeConcern }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(error).toBeInstanceOf(MongoWriteConcernError);
    expect(error).toMatchObject({ code: 64 });
    expect(await coll.countDocuments({ _id: id })).toBe(1);
  });

  it('w: 1 is met by the primary alone', async () => {
    const coll = client.db('wc').collection<{ _id: string }>('down');
    const result = await coll.insertOne({ _id: 'w1' }, { writeConcern: { w: 1, wtimeoutMS: 300 } });
    expect(result.acknowledged).toBe(true);
  });
});
