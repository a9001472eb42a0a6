import { sameToken, TokenTracker } from '../../../lib/change-stream/token-tracker';

const t = (n: number): { _data: string } => ({ _data: `T${n}` });

describe('TokenTracker', () => {
  it('starts at the loaded position and numbers events in read order', () => {
    const tracker = new TokenTracker();
    tracker.startFrom(t(0));
    expect(tracker.position).toEqual(t(0));
    expect([tracker.read(t(1)), tracker.read(t(2)), tracker.read(t(3))]).toEqual([0, 1, 2]);
    expect(tracker.outstanding).toBe(3);
    expect(tracker.lastSeq).toBe(2);
  });

  it('moves the position only to the last acknowledged event, counting what it acknowledged', () => {
    const tracker = new TokenTracker();
    tracker.read(t(1));
    tracker.read(t(2));
    tracker.read(t(3));
    expect(tracker.acknowledge(1)).toEqual({ events: 2, token: t(2) });
    expect(tracker.position).toEqual(t(2));
    expect(tracker.acknowledge(1)).toEqual({ events: 0, token: undefined });
    expect(tracker.acknowledge(2)).toEqual({ events: 1, token: t(3) });
    expect(tracker.outstanding).toBe(0);
  });

  it('takes a post-batch token at once when nothing is outstanding, and ignores a repeat', () => {
    const tracker = new TokenTracker();
    tracker.startFrom(t(0));
    expect(tracker.quiet({ _data: 'T0' })).toBeUndefined();
    expect(tracker.quiet(t(9))).toEqual(t(9));
    expect(tracker.position).toEqual(t(9));
    expect(tracker.quiet({ _data: 'T9' })).toBeUndefined();
  });

  it('defers a post-batch token until the outstanding events are acknowledged', () => {
    const tracker = new TokenTracker();
    tracker.read(t(1));
    tracker.read(t(2));
    expect(tracker.quiet(t(7))).toBeUndefined();
    expect(tracker.position).toBeUndefined();
    expect(tracker.acknowledge(0)).toEqual({ events: 1, token: t(1) });
    expect(tracker.acknowledge(1)).toEqual({ events: 1, token: t(7) });
  });

  it('acknowledges token-less events (history-lost replacements) without moving the position', () => {
    const tracker = new TokenTracker();
    tracker.startFrom(t(4));
    tracker.read(undefined);
    tracker.read(undefined);
    expect(tracker.acknowledge(1)).toEqual({ events: 2, token: undefined });
    expect(tracker.position).toEqual(t(4));
    tracker.read(undefined);
    tracker.read(t(8));
    expect(tracker.acknowledge(3)).toEqual({ events: 2, token: t(8) });
  });
});

describe('sameToken', () => {
  it('compares server tokens by _data and others by extended JSON', () => {
    expect(sameToken(t(1), { _data: 'T1' })).toBe(true);
    expect(sameToken(t(1), t(2))).toBe(false);
    expect(sameToken(undefined, undefined)).toBe(true);
    expect(sameToken(t(1), undefined)).toBe(false);
    expect(sameToken({ a: 1, b: [2] }, { a: 1, b: [2] })).toBe(true);
    expect(sameToken({ a: 1 }, { a: 2 })).toBe(false);
  });
});
