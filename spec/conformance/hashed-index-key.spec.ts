/**
 * `$toHashedIndexKey`: the hash mongod keys hashed indexes (and hashed shard
 * keys) with, usable in any expression and in a change stream's pipeline, so
 * that `{ $mod: [{ $abs: { $toHashedIndexKey: '$documentKey._id' } }, P] }`
 * names the same partition for a document on every server.
 *
 * The expected values are mongod's own test vectors for BSONElementHasher:
 * https://github.com/mongodb/mongo/blob/r4.0.0/src/mongo/db/hasher_test.cpp
 * (and the startup check in src/mongo/db/hasher.cpp: `{check: 42}` hashes to
 * -944302157085130861).
 */
import {
  Binary,
  BSONRegExp,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  type ChangeStream,
  type Document,
} from 'mongodb';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('hash');

/** mongod's test vectors: a value and the hashed-index key it has. */
const VECTORS: Array<[string, unknown, string]> = [
  ['int 42', 42, '-944302157085130861'],
  ['double 42.123 (numbers truncate toward zero)', new Double(42.123), '-944302157085130861'],
  ['long 42', Long.fromNumber(42), '-944302157085130861'],
  ['int 0', 0, '4854801880128277513'],
  ['double NaN (hashed as 0)', new Double(NaN), '4854801880128277513'],
  ['int 1', new Int32(1), '5902408780260971510'],
  ['double 1.987', new Double(1.987), '5902408780260971510'],
  ['long -1', Long.fromNumber(-1), '1140205862565771219'],
  ['int min', -2147483648, '6165898260261354870'],
  ['int max', 2147483647, '1143184177162245883'],
  ['double max (clamped to long max)', new Double(Number.MAX_VALUE), '921523596458303250'],
  ['long max', Long.MAX_VALUE, '921523596458303250'],
  ['long min', Long.MIN_VALUE, '4532067210535695462'],
  ['MinKey', new MinKey(), '7961148599568647290'],
  ['MaxKey', new MaxKey(), '5504842513779440750'],
  ['string "abc"', 'abc', '8478485326885698097'],
  ['empty string', '', '2049396243249673340'],
  ['document', { a: 'abc', b: Long.fromNumber(123) }, '4771603801758380216'],
  ['empty document', {}, '7980500913326740417'],
  ['array', ['bar', 'baz', 'qux'], '-2938911267422831539'],
  ['binary', new Binary(Buffer.from([0, 1, 2, 3, 4, 6]), 0), '7252465090394235301'],
  ['UUID', new Binary(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]), 4), '6084661258071355978'],
  ['ObjectId', new ObjectId('010203040506070809101112'), '-5588663249627035708'],
  ['true', true, '6405873908747105701'],
  ['false', false, '6289544573401934092'],
  ['date 0', new Date(0), '-1178696894582842035'],
  ['regex', new BSONRegExp('.*', 'i'), '7095855029187981886'],
];

describe('$toHashedIndexKey', () => {
  it.each(VECTORS)('hashes %s as mongod does', async (_what, value, expected) => {
    const coll = await scratch.fresh([{ _id: 1, v: value }]);
    const [doc] = await coll
      .aggregate([{ $project: { _id: 0, h: { $toHashedIndexKey: '$v' } } }], { promoteLongs: false })
      .toArray();
    expect(Long.isLong(doc.h)).toBe(true);
    expect((doc.h as Long).toString()).toBe(expected);
  });

  it('computes a partition with $abs and $mod exactly (no precision lost to doubles)', async () => {
    const coll = await scratch.fresh([{ _id: 42 }, { _id: 'abc' }]);
    const docs = await coll
      .aggregate([{ $project: { p: { $mod: [{ $abs: { $toHashedIndexKey: '$_id' } }, 1000] } } }, { $sort: { _id: 1 } }])
      .toArray();
    // |-944302157085130861| mod 1000 = 861; 8478485326885698097 mod 1000 = 97.
    expect(docs).toEqual([{ _id: 42, p: 861 }, { _id: 'abc', p: 97 }]);
  });

  it("splits a change stream's events by partition in its pipeline: each event in exactly one, in order", async () => {
    const partitions = 3;
    const coll = scratch.db.collection<{ _id: number; x?: number }>(scratch.freshName(), { writeConcern: { w: 'majority' } });
    const streams: ChangeStream[] = [];
    try {
      for (let p = 0; p < partitions; p++) {
        const match = { $expr: { $eq: [{ $mod: [{ $abs: { $toHashedIndexKey: '$documentKey._id' } }, partitions] }, p] } };
        const stream = coll.watch([{ $match: match }], { maxAwaitTimeMS: 50 });
        expect(await stream.tryNext()).toBeNull();
        streams.push(stream);
      }
      const ids = Array.from({ length: 30 }, (_, i) => i);
      for (const id of ids) await coll.insertOne({ _id: id });
      await coll.updateOne({ _id: 42 }, { $set: { x: 1 } }, { upsert: true });
      const expected = await coll
        .aggregate([{ $project: { p: { $mod: [{ $abs: { $toHashedIndexKey: '$_id' } }, partitions] } } }])
        .toArray();
      const seen: unknown[][] = [];
      for (let p = 0; p < partitions; p++) {
        const want = expected.filter((d) => d.p === p).length;
        const got: unknown[] = [];
        while (got.length < want) got.push(((await streams[p].next()) as Document).documentKey._id);
        expect(await streams[p].tryNext()).toBeNull();
        seen.push(got);
      }
      // 42 hashes to -944302157085130861: partition 944302157085130861 mod 3 = 1.
      expect(seen[1]).toContain(42);
      expect(seen.flat().sort((a, b) => Number(a) - Number(b))).toEqual([...ids, 42].sort((a, b) => a - b));
      for (const got of seen) expect(got).toEqual([...got].sort((a, b) => Number(a) - Number(b)));
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
  });
});
