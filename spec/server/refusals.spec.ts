/**
 * What the wire test server refuses because it cannot do it faithfully:
 * each is CommandNotSupported (115) with a message that names the feature,
 * so a spec that needs it fails plainly instead of passing on an
 * imitation. (On mongod these succeed, so this is no conformance spec.)
 */
import { MongoClient, type Document } from 'mongodb';
import { ReplicaSet } from './index';

describe('features the wire test server refuses', () => {
  let rs: ReplicaSet;
  let client: MongoClient;

  beforeAll(async () => {
    rs = await ReplicaSet.start({ members: 1 });
    client = new MongoClient(rs.uri);
  });

  afterAll(async () => {
    await client.close();
    await rs.close();
  });

  it.each<[string, Document]>([
    ['time series collections', { create: 'ts', timeseries: { timeField: 't' } }],
    ['queryable encryption', { create: 'enc', encryptedFields: { fields: [] } }],
  ])('%s: CommandNotSupported with the reason', async (_what, command) => {
    const error = await client.db('refusals').command(command).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 115, codeName: 'CommandNotSupported' });
    expect((error as Error).message).toMatch(/wire test server/);
  });
});
