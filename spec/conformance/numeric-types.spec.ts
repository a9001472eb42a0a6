/**
 * mongod keeps double, int32, int64 and decimal apart: a double holding an
 * integral value (1.0) reads back as a double, `$type` tells the four apart,
 * numbers of different types still compare (and find `_id`s) by value, and
 * the update operators follow mongod's type rules: int32 arithmetic that
 * overflows becomes int64, int with double is double, decimal wins, and an
 * int64 that overflows is an error.
 */
import { BSONRegExp, Decimal128, Double, Int32, Long, type ChangeStreamDocument, type Document } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('num');
/** Read every number with its BSON type, as the driver can. */
const RAW = { promoteValues: false } as const;

type Typed = 'Double' | 'Int32' | 'Long' | 'Decimal128';

/** The bson class name of a value read with {@link RAW}. */
function typeOf(value: unknown): Typed | string {
  return (value as { _bsontype?: string } | undefined)?._bsontype ?? typeof value;
}

const FOUR = [
  { _id: 'double', v: new Double(1) },
  { _id: 'int', v: new Int32(1) },
  { _id: 'long', v: Long.fromNumber(1) },
  { _id: 'decimal', v: Decimal128.fromString('1') },
];

describe('numeric types', () => {
  it('reads every type back as it was written', async () => {
    const coll = await scratch.fresh(FOUR);
    const docs = await coll.find({}, RAW).sort({ _id: 1 }).toArray();
    expect(docs.map((d) => [d._id, typeOf(d.v)])).toEqual([
      ['decimal', 'Decimal128'], ['double', 'Double'], ['int', 'Int32'], ['long', 'Long'],
    ]);
  });

  it('$type tells them apart; "number" and an equality match all four', async () => {
    const coll = await scratch.fresh(FOUR);
    const ids = async (filter: Document) => (await coll.find(filter).toArray()).map((d) => d._id).sort();
    expect(await ids({ v: { $type: 'double' } })).toEqual(['double']);
    expect(await ids({ v: { $type: 'int' } })).toEqual(['int']);
    expect(await ids({ v: { $type: 18 } })).toEqual(['long']);
    expect(await ids({ v: { $type: ['decimal', 'long'] } })).toEqual(['decimal', 'long']);
    expect(await ids({ v: { $type: 'number' } })).toEqual(['decimal', 'double', 'int', 'long']);
    expect(await ids({ v: 1 })).toEqual(['decimal', 'double', 'int', 'long']);
    expect(await ids({ v: { $gt: 0.5, $lt: Long.fromNumber(2) } })).toEqual(['decimal', 'double', 'int', 'long']);
  });

  it('an unknown $type alias is BadValue', async () => {
    const coll = await scratch.fresh(FOUR);
    const error = await serverError(coll.find({ v: { $type: 'float' } }).toArray());
    expect(error.code).toBe(2);
  });

  it('compares an int64 beyond 2^53 with other numbers by value', async () => {
    const big = Long.fromString('1152921504606846977'); // 2^60 + 1, more than a double holds
    const coll = await scratch.fresh([{ _id: 1, v: big }, { _id: 2, v: 5 }, { _id: 3, v: Long.fromString('1152921504606846976') }]);
    const ids = async (filter: Document) => (await coll.find(filter).toArray()).map((d) => d._id).sort();
    expect(await ids({ v: { $gt: 1e18 } })).toEqual([1, 3]);
    expect(await ids({ v: { $lt: big } })).toEqual([2, 3]);
    expect(await ids({ v: 2 ** 60 })).toEqual([3]);
    expect(await ids({ v: { $in: [big, 5] } })).toEqual([1, 2]);
  });

  it('sorts across types by value', async () => {
    const coll = await scratch.fresh([
      { _id: 1, v: Long.fromNumber(3) },
      { _id: 2, v: 2.5 },
      { _id: 3, v: new Int32(2) },
      { _id: 4, v: Decimal128.fromString('2.75') },
    ]);
    expect((await coll.find().sort({ v: 1 }).toArray()).map((d) => d._id)).toEqual([3, 2, 4, 1]);
  });

  it('an _id is found and kept unique by value, whatever its numeric type', async () => {
    const coll = await scratch.fresh([{ _id: 7 }]);
    expect(await coll.countDocuments({ _id: Long.fromNumber(7) })).toBe(1);
    expect(await coll.countDocuments({ _id: new Double(7) })).toBe(1);
    const error = await serverError(coll.insertOne({ _id: new Double(7) as unknown as number }));
    expect(error.code).toBe(11000);
  });

  it('an aggregation passes values along with their types', async () => {
    const coll = await scratch.fresh(FOUR);
    const docs = await coll.aggregate([{ $match: { v: 1 } }, { $project: { v: 1 } }, { $sort: { _id: 1 } }], RAW).toArray();
    expect(docs.map((d) => typeOf(d.v))).toEqual(['Decimal128', 'Double', 'Int32', 'Long']);
  });
});

describe('update arithmetic keeps mongod\'s types', () => {
  async function after(v: unknown, update: Document): Promise<unknown> {
    const coll = await scratch.fresh([{ _id: 1, ...(v === undefined ? {} : { v }) }]);
    await coll.updateOne({ _id: 1 }, update);
    return (await coll.findOne({ _id: 1 }, RAW))?.v;
  }

  it('int32 + int32 is int32, and int64 when it overflows', async () => {
    expect(typeOf(await after(new Int32(1), { $inc: { v: new Int32(1) } }))).toBe('Int32');
    const overflowed = await after(new Int32(2_147_483_647), { $inc: { v: new Int32(1) } });
    expect(typeOf(overflowed)).toBe('Long');
    expect(String(overflowed)).toBe('2147483648');
  });

  it('int with double is double, even when the result is integral', async () => {
    const v = await after(new Int32(1), { $inc: { v: new Double(1) } });
    expect(typeOf(v)).toBe('Double');
    expect(Number(v)).toBe(2);
  });

  it('int with int64 is int64; int with decimal is decimal', async () => {
    expect(typeOf(await after(new Int32(2), { $mul: { v: Long.fromNumber(3) } }))).toBe('Long');
    const decimal = await after(Long.fromNumber(2), { $inc: { v: Decimal128.fromString('0.5') } });
    expect(typeOf(decimal)).toBe('Decimal128');
    expect(String(decimal)).toBe('2.5');
  });

  it('$inc on a missing field sets the increment as given; $mul sets a zero of the multiplier\'s type', async () => {
    expect(typeOf(await after(undefined, { $inc: { v: new Double(1) } }))).toBe('Double');
    const zero = await after(undefined, { $mul: { v: Long.fromNumber(5) } });
    expect(typeOf(zero)).toBe('Long');
    expect(String(zero)).toBe('0');
  });

  it('an int64 that overflows is refused and the document is left as it was', async () => {
    const coll = await scratch.fresh([{ _id: 1, v: Long.MAX_VALUE }]);
    const error = await serverError(coll.updateOne({ _id: 1 }, { $inc: { v: Long.ONE } }));
    expect(error.code).toBe(2);
    expect(String((await coll.findOne({ _id: 1 }, RAW))?.v)).toBe(Long.MAX_VALUE.toString());
  });

  it('$min and $max compare across types by value', async () => {
    expect(typeOf(await after(new Int32(5), { $max: { v: new Double(5) } }))).toBe('Int32');
    const lower = await after(4.5, { $min: { v: Long.fromNumber(3) } });
    expect(typeOf(lower)).toBe('Long');
  });

  it('$set of 1.0 over 1 is a change; $addToSet of 1.0 to [1] is not', async () => {
    const coll = await scratch.fresh([{ _id: 1, v: 1, a: [1] }]);
    expect((await coll.updateOne({ _id: 1 }, { $set: { v: new Double(1) } })).modifiedCount).toBe(1);
    expect((await coll.updateOne({ _id: 1 }, { $addToSet: { a: new Double(1) } })).modifiedCount).toBe(0);
    expect(typeOf((await coll.findOne({ _id: 1 }, RAW))?.v)).toBe('Double');
  });
});

describe('change events carry the types', () => {
  it('fullDocument and updatedFields keep a double a double', async () => {
    const coll = await scratch.fresh([{ _id: 1, v: 1 }]);
    const stream = coll.watch<Document, ChangeStreamDocument<Document>>([], { fullDocument: 'updateLookup', ...RAW });
    try {
      await stream.tryNext();
      await coll.updateOne({ _id: 1 }, { $set: { v: new Double(2) } });
      let event = await stream.tryNext();
      for (let i = 0; !event && i < 50; i++) event = await stream.tryNext();
      expect(event?.operationType).toBe('update');
      if (event?.operationType !== 'update') return;
      expect(typeOf(event.updateDescription.updatedFields?.v)).toBe('Double');
      expect(typeOf(event.fullDocument?.v)).toBe('Double');
    } finally {
      await stream.close();
    }
  });
});

describe('regular expressions keep their flags', () => {
  it('a stored regex reads back with its options, and $options x matches', async () => {
    const coll = await scratch.fresh([{ _id: 1, r: new BSONRegExp('a b', 'ix'), s: 'AB' }]);
    const doc = await coll.findOne({ _id: 1 }, { bsonRegExp: true });
    expect(doc?.r).toEqual(new BSONRegExp('a b', 'ix'));
    expect(await coll.countDocuments({ s: { $regex: 'a  b # spaced out', $options: 'ix' } })).toBe(1);
  });
});

describe('the $type expression', () => {
  it('names each stored type in a pipeline', async () => {
    const coll = await scratch.fresh(FOUR);
    const docs = await coll.aggregate<{ _id: string; t: string }>([{ $project: { t: { $type: '$v' } } }, { $sort: { _id: 1 } }]).toArray();
    expect(docs.map((d) => [d._id, d.t])).toEqual([['decimal', 'decimal'], ['double', 'double'], ['int', 'int'], ['long', 'long']]);
    const doubles = await coll.countDocuments({ $expr: { $eq: [{ $type: '$v' }, 'double'] } });
    expect(doubles).toBe(1);
  });
});
