/**
 * Errors as mongod names them: each mistake below is refused with mongod's
 * `code` and `codeName`, and the server reports one version consistently
 * (`buildInfo`, the wire version in `hello`, the feature compatibility
 * version).
 */
import type { Document } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('errs');

/** The wire version each MongoDB release announces as `maxWireVersion`. */
const WIRE_VERSIONS: Record<string, number> = {
  '4.0': 7, '4.2': 8, '4.4': 9, '5.0': 13, '6.0': 17, '7.0': 21, '8.0': 25,
};

describe('error codes and names', () => {
  // A write error (in writeErrors) carries a code without a name.
  const cases: Array<[string, (db: typeof scratch.db, coll: string) => Promise<unknown>, number, string | null]> = [
    ['an unknown command', (db) => db.command({ noSuchCommand: 1 }), 59, 'CommandNotFound'],
    ['an unknown query operator', (db, c) => db.collection(c).find({ a: { $nope: 1 } }).toArray(), 2, 'BadValue'],
    ['an unknown pipeline stage', (db, c) => db.collection(c).aggregate([{ $nope: {} }]).toArray(), 40324, 'Location40324'],
    ['an unknown update modifier', (db, c) => db.collection(c).updateOne({}, { $nope: { a: 1 } } as Document), 9, null],
    ['$inc with a string', (db, c) => db.collection(c).updateOne({}, { $inc: { a: 'x' } } as Document), 14, null],
    ['two operators on one path', (db, c) => db.collection(c).updateOne({}, { $set: { a: 1 }, $inc: { a: 1 } }), 40, null],
    ['changing _id', (db, c) => db.command({ findAndModify: c, query: { _id: 1 }, update: { $set: { _id: 2 } } }), 66, 'ImmutableField'],
    ['an unknown field of find', (db, c) => db.command({ find: c, nope: 1 }), 40415, 'Location40415'],
    ['a negative skip', (db, c) => db.command({ find: c, skip: -1 }), 51024, 'Location51024'],
    ['a sort order of 2', (db, c) => db.command({ find: c, sort: { a: 2 } }), 15975, 'Location15975'],
    ['an undefined variable', (db, c) => db.collection(c).find({ $expr: { $eq: ['$a', '$$nope'] } }).toArray(), 17276, 'Location17276'],
    ['creating an existing collection', (db, c) => db.createCollection(c), 48, 'NamespaceExists'],
    ['listing the indexes of no collection', (db) => db.collection('missing').listIndexes().toArray(), 26, 'NamespaceNotFound'],
    ['dropping an index that is not there', (db, c) => db.collection(c).dropIndex('nope_1'), 27, 'IndexNotFound'],
    ['a getMore on no cursor', (db, c) => db.command({ getMore: 12345, collection: c } as Document), 43, 'CursorNotFound'],
    ['an admin-only command elsewhere', (db, c) => db.command({ renameCollection: `${db.databaseName}.${c}`, to: `${db.databaseName}.x` }), 13, 'Unauthorized'],
    ['dropping the admin database', (db) => db.client.db('admin').command({ dropDatabase: 1 }), 20, 'IllegalOperation'],
  ];

  it.each(cases)('%s', async (_what, call, code, codeName) => {
    const name = scratch.freshName();
    await scratch.db.collection(name).insertOne({ _id: 1, a: 1 } as Document);
    expect(await serverError(call(scratch.db, name))).toMatchObject(codeName === null ? { code } : { code, codeName });
  });

  it('a duplicate _id is 11000 with the key it clashed on', async () => {
    const coll = await scratch.fresh([{ _id: 'k' }]);
    const error = await serverError(coll.insertOne({ _id: 'k' }));
    expect(error).toMatchObject({ code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 'k' } });
  });
});

describe('one version', () => {
  it('buildInfo, hello and the feature compatibility version agree', async () => {
    const admin = scratch.client.db('admin');
    const build = await admin.command({ buildInfo: 1 });
    const hello = await admin.command({ hello: 1 });
    const fcv = await admin.command({ getParameter: 1, featureCompatibilityVersion: 1 });
    const [major, minor] = String(build.version).split('.');
    expect(build.versionArray.slice(0, 2)).toEqual([Number(major), Number(minor)]);
    expect(fcv.featureCompatibilityVersion.version).toBe(`${major}.${minor}`);
    const wire = WIRE_VERSIONS[`${major}.${minor}`];
    if (wire !== undefined) expect(hello.maxWireVersion).toBe(wire);
    expect((await admin.command({ isMaster: 1 })).maxWireVersion).toBe(hello.maxWireVersion);
  });
});
