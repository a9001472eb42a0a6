import { Timestamp } from 'mongodb';
import { changeTimeOf, clusterTimeOf } from '../../../../lib/change-stream/observe/time';

describe('clusterTimeOf', () => {
  it('reads the cluster time at the head of a resume token', () => {
    // A v2 event token as mongod writes it: 82, the timestamp (big-endian seconds then increment), then the rest.
    const token = { _data: '8265A1B2C3000000072B042C0100296E5A1004AB' };
    expect(clusterTimeOf(token)).toEqual(new Timestamp({ t: 0x65a1b2c3, i: 7 }));
  });

  it('reads a high-water-mark token (a quiet batch’s post-batch token) the same way', () => {
    expect(clusterTimeOf({ _data: '82FFFFFFFFFFFFFFFF2B0229' })).toEqual(new Timestamp({ t: 0xffffffff, i: 0xffffffff }));
  });

  it('takes a Timestamp position as it is', () => {
    const time = new Timestamp({ t: 5, i: 1 });
    expect(clusterTimeOf(time)).toBe(time);
  });

  it.each([
    ['undefined', undefined],
    ['a token without _data', { other: 1 }],
    ['a _data that is not a string', { _data: 42 }],
    ['a _data that does not start with a timestamp', { _data: '3C65A1B2C300000007' }],
    ['a _data too short to hold one', { _data: '8265A1' }],
    ['a _data with non-hex digits', { _data: '82ZZA1B2C300000007' }],
  ])('gives undefined for %s', (_what, position) => {
    expect(clusterTimeOf(position)).toBeUndefined();
  });
});

describe('changeTimeOf', () => {
  const clusterTime = new Timestamp({ t: 1_700_000_000, i: 3 });

  it('prefers the change’s wallTime (ms)', () => {
    expect(changeTimeOf({ clusterTime, wallTime: new Date(1_700_000_000_123) })).toEqual({ clusterTime, ms: 1_700_000_000_123 });
  });

  it('falls back to the cluster time’s second without a wallTime (before MongoDB 6.0)', () => {
    expect(changeTimeOf({ clusterTime })).toEqual({ clusterTime, ms: 1_700_000_000_000 });
  });

  it('has no time for a change without either (a history-lost replacement)', () => {
    expect(changeTimeOf({ _id: 1 })).toEqual({ clusterTime: undefined, ms: undefined });
    expect(changeTimeOf(undefined)).toEqual({ clusterTime: undefined, ms: undefined });
  });
});
