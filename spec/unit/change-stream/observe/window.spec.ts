import { MongoServerError, Timestamp, type MongoClient } from 'mongodb';
import { headroomOf, type HeadroomPosition } from '../../../../lib/change-stream/observe/headroom';
import { readOplogWindow, type OplogWindow } from '../../../../lib/change-stream/observe/window';

const ts = (t: number, i = 1) => new Timestamp({ t, i });
const unauthorized = () => new MongoServerError({ code: 13, codeName: 'Unauthorized', errmsg: 'not authorized on local to execute command { find: "oplog.rs" }' });

/** A driver client whose oplog reads and replSetGetStatus answer as given. */
function fakeDriver(oplog: { first?: unknown; last?: unknown } | Error, status: unknown): MongoClient {
  const findOne = async (_filter: unknown, options: { sort: { $natural: number } }) => {
    if (oplog instanceof Error) throw oplog;
    return (options.sort.$natural === 1 ? oplog.first : oplog.last) ?? null;
  };
  const command = async () => {
    if (status instanceof Error) throw status;
    return status;
  };
  return { db: () => ({ collection: () => ({ findOne }), command }) } as unknown as MongoClient;
}

describe('readOplogWindow', () => {
  it('reads the first and last entries of local.oplog.rs', async () => {
    const first = { ts: ts(100), wall: new Date(100_000) };
    const last = { ts: ts(160, 4), wall: new Date(160_500) };
    expect(await readOplogWindow(fakeDriver({ first, last }, new Error('not asked')), undefined)).toEqual({
      window: { first, last, spanMS: 60_500 },
    });
  });

  it('falls back to replSetGetStatus for the newest entry where the oplog cannot be read (Atlas)', async () => {
    const wall = new Date(160_500);
    const read = await readOplogWindow(fakeDriver(unauthorized(), { optimes: { appliedOpTime: { ts: ts(160, 4) }, lastAppliedWallTime: wall } }), undefined);
    expect(read.window).toEqual({ first: undefined, last: { ts: ts(160, 4), wall }, spanMS: undefined });
    expect(read.unavailable).toContain('not authorized on local');
  });

  it('says why when neither can be read, and never rejects', async () => {
    const read = await readOplogWindow(fakeDriver(unauthorized(), unauthorized()), undefined);
    expect(read.window).toBeUndefined();
    expect(read.unavailable).toMatch(/not authorized.*replSetGetStatus: not authorized/);
  });

  it('takes an empty oplog for what it is: not a replica set member', async () => {
    const read = await readOplogWindow(fakeDriver({}, new MongoServerError({ code: 76, errmsg: 'not running with --replSet' })), undefined);
    expect(read.window).toBeUndefined();
    expect(read.unavailable).toMatch(/not in a replica set.*--replSet/);
  });
});

describe('headroomOf', () => {
  const window: OplogWindow = { first: { ts: ts(100), wall: new Date(100_000) }, last: { ts: ts(200), wall: new Date(200_000) }, spanMS: 100_000 };
  const at = (t: number, timeMS = t * 1000): HeadroomPosition => ({ source: 'checkpoint', clusterTime: ts(t), timeMS, ageMS: 0 });

  it('is the time from the first entry to the position', () => {
    expect(headroomOf(250_000, window, at(130, 130_400), 10_000)).toMatchObject({ headroomMS: 30_400, lost: false, low: false, marginMS: 10_000 });
  });

  it('is low below the margin, and lost (and low) before the first entry', () => {
    expect(headroomOf(0, window, at(105), 10_000)).toMatchObject({ headroomMS: 5000, lost: false, low: true });
    expect(headroomOf(0, window, at(99), 10_000)).toMatchObject({ headroomMS: -1000, lost: true, low: true });
  });

  it('never goes below 0 for a position in the window known to the second only', () => {
    const sameSecond: OplogWindow = { ...window, first: { ts: ts(100, 1), wall: new Date(100_700) } };
    expect(headroomOf(0, sameSecond, { ...at(100), clusterTime: ts(100, 5) }, 0)).toMatchObject({ headroomMS: 0, lost: false, low: false });
  });

  it('is unknown without a position or a first entry', () => {
    expect(headroomOf(0, window, undefined, 1)).toMatchObject({ headroomMS: undefined, lost: false, low: false });
    expect(headroomOf(0, { ...window, first: undefined, spanMS: undefined }, at(150), 1, ['no access'])).toMatchObject({
      headroomMS: undefined,
      low: false,
      unavailable: 'no access',
    });
  });
});
