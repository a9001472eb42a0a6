/**
 * Collation in matching as mongod applies it: with `{ locale: 'en',
 * strength: 2 }` strings compare case-insensitively in filters, updates,
 * deletes and counts; strength 1 also ignores accents; ICU locale spellings
 * such as `en_US` are accepted; without a collation comparison is binary.
 */
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('coll');
const CASE_INSENSITIVE = { locale: 'en', strength: 2 };

const names = ['apple', 'Apple', 'APPLE', 'banana', 'Banana', 'café', 'cafe'];
const seeded = () => scratch.fresh(names.map((name, i) => ({ _id: i, name })));
const ids = (docs: Array<{ _id?: unknown }>) => docs.map((d) => d._id);

describe('collation in matching', () => {
  it('strength 2 matches without regard to case; no collation matches exactly', async () => {
    const coll = await seeded();
    expect(ids(await coll.find({ name: 'apple' }, { collation: CASE_INSENSITIVE }).sort({ _id: 1 }).toArray())).toEqual([0, 1, 2]);
    expect(ids(await coll.find({ name: 'apple' }).toArray())).toEqual([0]);
  });

  it('strength 2 still tells accents apart; strength 1 does not', async () => {
    const coll = await seeded();
    expect(ids(await coll.find({ name: 'cafe' }, { collation: CASE_INSENSITIVE }).toArray())).toEqual([6]);
    expect(ids(await coll.find({ name: 'cafe' }, { collation: { locale: 'fr', strength: 1 } }).sort({ _id: 1 }).toArray())).toEqual([5, 6]);
  });

  it('applies to $in, $ne and ranges', async () => {
    const coll = await seeded();
    const byIn = await coll.find({ name: { $in: ['BANANA', 'x'] } }, { collation: CASE_INSENSITIVE }).sort({ _id: 1 }).toArray();
    expect(ids(byIn)).toEqual([3, 4]);
    const byNe = await coll.countDocuments({ name: { $ne: 'APPLE' } }, { collation: CASE_INSENSITIVE });
    expect(byNe).toBe(4);
    const range = await coll.find({ name: { $gte: 'B', $lt: 'C' } }, { collation: CASE_INSENSITIVE }).sort({ _id: 1 }).toArray();
    expect(ids(range)).toEqual([3, 4]);
  });

  it('applies to updates and deletes', async () => {
    const coll = await seeded();
    const updated = await coll.updateMany({ name: 'APPLE' }, { $set: { fruit: true } }, { collation: CASE_INSENSITIVE });
    expect(updated.modifiedCount).toBe(3);
    const deleted = await coll.deleteMany({ name: 'banana' }, { collation: CASE_INSENSITIVE });
    expect(deleted.deletedCount).toBe(2);
    expect(await coll.countDocuments()).toBe(5);
  });

  it('accepts ICU locale spellings such as en_US, for sorting too', async () => {
    const coll = await seeded();
    const found = await coll.find({ name: 'Banana' }, { collation: { locale: 'en_US', strength: 2 } }).sort({ _id: 1 }).toArray();
    expect(ids(found)).toEqual([3, 4]);
    const sorted = await coll.find({ name: { $in: ['banana', 'Banana'] } }).sort({ name: 1 }).collation({ locale: 'en_US' }).toArray();
    expect(sorted.map((d) => d.name)).toEqual(['banana', 'Banana']);
  });

  it('the simple collation is binary', async () => {
    const coll = await seeded();
    expect(ids(await coll.find({ name: 'apple' }, { collation: { locale: 'simple' } }).toArray())).toEqual([0]);
  });
});
