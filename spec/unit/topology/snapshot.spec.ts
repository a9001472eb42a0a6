import { MongoNetworkError, MongoServerError } from 'mongodb';
import { summarizeError, TopologySnapshotBuilder, unknownTopology } from '../../../lib/topology/snapshot';
import { FakeDriver, hello } from './fake-driver';

const A = 'localhost:27017';
const B = 'localhost:27018';

/** The driver's description after `steps`, read the way TopologyState reads it. */
function descriptionAfter(steps: (d: FakeDriver) => void) {
  const driver = new FakeDriver();
  steps(driver);
  return driver.topology!.description;
}

describe('TopologySnapshotBuilder', () => {
  it('returns the same snapshot for the same driver description', () => {
    const builder = new TopologySnapshotBuilder();
    const description = descriptionAfter((d) => d.open([A, B]));
    const first = builder.build(description, null, 1);
    expect(builder.build(description, null, 2)).toBe(first);
    expect(first.servers.map((s) => s.lastUpdateTime)).toEqual([1, 1]);
  });

  it('rebuilds only the entry of the server a refresh touched', () => {
    const driver = new FakeDriver();
    const builder = new TopologySnapshotBuilder();
    driver.open([A, B]);
    driver.heartbeat(A, hello('primary', { hosts: [A, B], primary: A }));
    const before = builder.build(driver.topology!.description, null, 1);
    driver.heartbeat(A, hello('primary', { hosts: [A, B], primary: A }), 9);
    const after = builder.build(driver.topology!.description, null, 2);
    expect(after).not.toBe(before);
    expect(after.servers[0]).toMatchObject({ address: A, roundTripTime: 9, lastUpdateTime: 2 });
    expect(after.servers[1]).toBe(before.servers[1]);
  });

  it('keeps an equal error summary as the same object', () => {
    const driver = new FakeDriver();
    const builder = new TopologySnapshotBuilder();
    driver.open([A]);
    driver.heartbeatFailed(A, new MongoNetworkError('connection refused'));
    const first = builder.build(driver.topology!.description, null, 1);
    driver.heartbeatFailed(A, new MongoNetworkError('connection refused'));
    const second = builder.build(driver.topology!.description, null, 2);
    expect(second.servers[0]).not.toBe(first.servers[0]);
    expect(second.servers[0].error).toBe(first.servers[0].error);
  });

  it('builds the unknown state, with the connection error, from no description', () => {
    const builder = new TopologySnapshotBuilder();
    builder.build(descriptionAfter((d) => d.open([A])), null, 1);
    const error = summarizeError(new MongoNetworkError('down'));
    expect(builder.build(null, error, 2)).toEqual(unknownTopology(error));
    expect(builder.build(null, null, 3)).toBe(unknownTopology());
  });
});

describe('summarizeError', () => {
  it('keeps name, message and code', () => {
    const err = new MongoServerError({ errmsg: 'not primary', code: 10107, codeName: 'NotWritablePrimary' });
    expect(summarizeError(err)).toEqual({ name: 'MongoServerError', message: 'not primary', code: 10107 });
    expect(summarizeError('boom')).toEqual({ name: 'Error', message: 'boom', code: null });
  });
});
