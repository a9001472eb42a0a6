/**
 * FragmentAssembler: fragments of `$changeStreamSplitLargeEvent` become one
 * event with every fragment's fields and the last fragment's `_id`; whole
 * events pass through; anything out of order is an error, never a guess.
 */
import { FragmentAssembler } from '../../../lib/change-stream/fragments';
import { RxMongoError } from '../../../lib/errors';

const fragment = (n: number, of: number, fields: Record<string, unknown>) => ({ _id: { _data: `F${n}` }, splitEvent: { fragment: n, of }, ...fields });

describe('FragmentAssembler', () => {
  it('passes whole events through and joins fragments into one event with the last _id', () => {
    const assembler = new FragmentAssembler();
    const plain = { _id: { _data: 'A' }, operationType: 'insert' };
    expect(assembler.add(plain)).toBe(plain);
    expect(assembler.add(fragment(1, 3, { operationType: 'update', clusterTime: 7 }))).toBeUndefined();
    expect(assembler.pending).toBe(true);
    expect(assembler.add(fragment(2, 3, { fullDocument: { big: 1 } }))).toBeUndefined();
    expect(assembler.add(fragment(3, 3, { updateDescription: { updatedFields: { big: 1 } } }))).toEqual({
      _id: { _data: 'F3' },
      operationType: 'update',
      clusterTime: 7,
      fullDocument: { big: 1 },
      updateDescription: { updatedFields: { big: 1 } },
    });
    expect(assembler.pending).toBe(false);
  });

  it('starts empty again after reset (a cursor reopened before the first fragment)', () => {
    const assembler = new FragmentAssembler();
    assembler.add(fragment(1, 2, { a: 1 }));
    assembler.reset();
    expect(assembler.pending).toBe(false);
    expect(assembler.add(fragment(1, 2, { a: 1 }))).toBeUndefined();
    expect(assembler.add(fragment(2, 2, { b: 2 }))).toEqual({ _id: { _data: 'F2' }, a: 1, b: 2 });
  });

  it.each([
    ['a fragment other than the first to begin with', [fragment(2, 2, {})]],
    ['a skipped fragment', [fragment(1, 3, {}), fragment(3, 3, {})]],
    ['a fragment of another split', [fragment(1, 3, {}), fragment(2, 2, {})]],
    ['a whole event between fragments', [fragment(1, 2, {}), { _id: { _data: 'X' } }]],
  ])('refuses %s', (_name, sequence) => {
    const assembler = new FragmentAssembler();
    expect(() => sequence.forEach((change) => assembler.add(change))).toThrow(RxMongoError);
    expect(assembler.pending).toBe(false);
  });
});
