import { Timestamp, type ResumeToken } from 'mongodb';
import { StreamRuns, type ObservedRun } from '../../../../lib/change-stream/observe/runs';

/** A token at `t` seconds, increment `i`, as the server lays it out. */
const token = (t: number, i: number): ResumeToken => ({ _data: `82${t.toString(16).padStart(8, '0')}${i.toString(16).padStart(8, '0')}2B0229` });

function run(fields: { lastSeq?: number; unacknowledged?: number; readPosition?: ResumeToken; lastChange?: unknown } = {}): ObservedRun {
  return {
    position: { lastSeq: fields.lastSeq ?? -1, unacknowledged: fields.unacknowledged ?? 0, readPosition: fields.readPosition },
    lastChange: fields.lastChange,
  };
}

describe('StreamRuns', () => {
  it('reports no lag and no runs before any attached', () => {
    const runs = new StreamRuns();
    expect(runs.lag(10_000)).toEqual({ at: 10_000, lagMS: undefined, clusterTime: undefined, quiet: false, unacknowledged: 0, subscriptions: 0 });
    expect(runs.count$.value).toBe(0);
  });

  it('measures from the last change’s wallTime while the newest position is that change', () => {
    const runs = new StreamRuns();
    const clusterTime = new Timestamp({ t: 100, i: 2 });
    runs.attach(run({ lastSeq: 4, unacknowledged: 3, readPosition: token(100, 2), lastChange: { clusterTime, wallTime: new Date(100_250) } }));
    expect(runs.lag(101_000)).toEqual({ at: 101_000, lagMS: 750, clusterTime, quiet: false, unacknowledged: 3, subscriptions: 1 });
  });

  it('measures from the post-batch token once the stream read past its last change', () => {
    const runs = new StreamRuns();
    runs.attach(run({ lastSeq: 0, readPosition: token(105, 1), lastChange: { clusterTime: new Timestamp({ t: 100, i: 2 }), wallTime: new Date(100_250) } }));
    const lag = runs.lag(107_000);
    expect(lag).toMatchObject({ lagMS: 2000, quiet: true });
    expect(lag.clusterTime).toEqual(new Timestamp({ t: 105, i: 1 }));
  });

  it('keeps the change’s ms when a later token falls in the same second', () => {
    const runs = new StreamRuns();
    runs.attach(run({ readPosition: token(100, 9), lastChange: { clusterTime: new Timestamp({ t: 100, i: 2 }), wallTime: new Date(100_900) } }));
    expect(runs.lag(101_000)).toMatchObject({ lagMS: 100, quiet: true });
  });

  it('reports the worst run and sums the unacknowledged; never below 0 (clock skew)', () => {
    const runs = new StreamRuns();
    runs.attach(run({ unacknowledged: 2, readPosition: token(200, 1) }));
    runs.attach(run({ unacknowledged: 5, readPosition: token(150, 1) }));
    runs.attach(run({ unacknowledged: 1 }));
    expect(runs.lag(160_000)).toMatchObject({ lagMS: 10_000, unacknowledged: 8, subscriptions: 3 });
    const ahead = new StreamRuns();
    ahead.attach(run({ readPosition: token(200, 1) }));
    expect(ahead.lag(100_000).lagMS).toBe(0);
  });

  it('counts events over runs, keeping those of runs that ended', () => {
    const runs = new StreamRuns();
    const first = run({ lastSeq: 9 });
    const detach = runs.attach(first);
    runs.attach(run({ lastSeq: 2 }));
    expect(runs.events).toBe(13);
    expect(runs.count$.value).toBe(2);
    detach();
    detach();
    expect(runs.events).toBe(13);
    expect(runs.count$.value).toBe(1);
  });
});
