import { Timestamp } from 'mongodb';
import { AcknowledgedTokens, sameToken } from '../../../../lib/change-stream/position/tokens';

const t = (n: number): { _data: string } => ({ _data: `T${n}` });

describe('AcknowledgedTokens', () => {
  it('numbers events in read order', () => {
    const tokens = new AcknowledgedTokens();
    expect(tokens.lastSeq).toBe(-1);
    expect([tokens.read(t(1)), tokens.read(t(2)), tokens.read(t(3))]).toEqual([0, 1, 2]);
    expect(tokens.lastSeq).toBe(2);
  });

  it('reaches only the last acknowledged event, counting what it acknowledged', () => {
    const tokens = new AcknowledgedTokens();
    tokens.read(t(1));
    tokens.read(t(2));
    tokens.read(t(3));
    expect(tokens.acknowledge(1)).toEqual({ events: 2, token: t(2) });
    expect(tokens.acknowledge(1)).toEqual({ events: 0, token: undefined });
    expect(tokens.acknowledge(2)).toEqual({ events: 1, token: t(3) });
  });

  it('takes a post-batch token at once when nothing is outstanding', () => {
    const tokens = new AcknowledgedTokens();
    expect(tokens.quiet(t(9))).toBe(true);
    tokens.read(t(10));
    expect(tokens.acknowledge(0)).toEqual({ events: 1, token: t(10) });
    expect(tokens.quiet(t(11))).toBe(true);
  });

  it('defers a post-batch token until the outstanding events are acknowledged', () => {
    const tokens = new AcknowledgedTokens();
    tokens.read(t(1));
    tokens.read(t(2));
    expect(tokens.quiet(t(7))).toBe(false);
    expect(tokens.acknowledge(0)).toEqual({ events: 1, token: t(1) });
    expect(tokens.acknowledge(1)).toEqual({ events: 1, token: t(7) });
  });

  it('acknowledges token-less events (history-lost replacements) without reaching a position', () => {
    const tokens = new AcknowledgedTokens();
    tokens.read(undefined);
    tokens.read(undefined);
    expect(tokens.acknowledge(1)).toEqual({ events: 2, token: undefined });
    tokens.read(undefined);
    tokens.read(t(8));
    expect(tokens.acknowledge(3)).toEqual({ events: 2, token: t(8) });
  });

  it('stays correct when acknowledging one at a time past its compaction threshold', () => {
    const tokens = new AcknowledgedTokens();
    for (let n = 0; n < 3000; n += 1) tokens.read(t(n));
    for (let n = 0; n < 3000; n += 1) expect(tokens.acknowledge(n)).toEqual({ events: 1, token: t(n) });
  });
});

describe('sameToken', () => {
  it('compares server tokens by _data and others (timestamps) by extended JSON', () => {
    expect(sameToken(t(1), { _data: 'T1' })).toBe(true);
    expect(sameToken(t(1), t(2))).toBe(false);
    expect(sameToken(undefined, undefined)).toBe(true);
    expect(sameToken(t(1), undefined)).toBe(false);
    expect(sameToken(new Timestamp({ t: 5, i: 1 }), new Timestamp({ t: 5, i: 1 }))).toBe(true);
    expect(sameToken(new Timestamp({ t: 5, i: 1 }), new Timestamp({ t: 5, i: 2 }))).toBe(false);
  });
});
