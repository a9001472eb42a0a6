import { InvalidOperationError } from '../../../lib/errors';
import {
  deriveView,
  readProperty,
  TOPOLOGY_KEYS,
  TOPOLOGY_PROPERTIES,
  UNKNOWN_VIEW,
} from '../../../lib/topology/properties';
import { TopologyState } from '../../../lib/topology';
import { TopologySnapshotBuilder, unknownTopology } from '../../../lib/topology/snapshot';
import { FakeDriver, hello } from './fake-driver';

const A = 'localhost:27017';
const B = 'localhost:27018';

/** Lets the refresh queued by the current driver step run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The snapshot of the driver's description after `steps`. */
function snapshotAfter(steps: (d: FakeDriver) => void, builder = new TopologySnapshotBuilder()) {
  const driver = new FakeDriver();
  steps(driver);
  return builder.build(driver.topology!.description, null, 1);
}

describe('TOPOLOGY_PROPERTIES', () => {
  it('lists every property once, in table order', () => {
    expect(TOPOLOGY_KEYS).toEqual(Object.keys(TOPOLOGY_PROPERTIES));
    expect(Object.isFrozen(TOPOLOGY_KEYS)).toBe(true);
  });

  it('starts from the unknown view: empty frozen lists, null addresses, false flags', () => {
    expect(UNKNOWN_VIEW).toMatchObject({
      address: null,
      primary: null,
      secondaries: [],
      arbiters: [],
      nodes: [],
      isPrimary: false,
      isMongos: false,
    });
    expect(UNKNOWN_VIEW.topologyDescription).toBe(unknownTopology());
    expect(Object.isFrozen(UNKNOWN_VIEW)).toBe(true);
    expect(Object.isFrozen(UNKNOWN_VIEW.nodes)).toBe(true);
  });
});

describe('deriveView', () => {
  it('projects every property of one snapshot', () => {
    const topology = snapshotAfter((d) => {
      d.open([A, B]);
      d.heartbeat(A, hello('primary', { hosts: [A, B], primary: A }));
      d.heartbeat(B, hello('secondary', { hosts: [A, B], primary: A }));
    });
    const view = deriveView(topology);
    expect(Object.keys(view)).toEqual(TOPOLOGY_KEYS);
    expect(view).toMatchObject({ address: A, primary: A, secondaries: [B], arbiters: [], nodes: [A, B], isPrimary: true });
    expect(view.topologyDescription).toBe(topology);
  });

  it('reuses the previous frozen lists when they are equal', () => {
    const builder = new TopologySnapshotBuilder();
    const steps = (d: FakeDriver) => {
      d.open([A, B]);
      d.heartbeat(A, hello('primary', { hosts: [A, B], primary: A }));
      d.heartbeat(B, hello('secondary', { hosts: [A, B], primary: A }));
    };
    const first = deriveView(snapshotAfter(steps, builder), UNKNOWN_VIEW);
    const again = deriveView(snapshotAfter(steps, builder), first);
    expect(first.nodes).toEqual([A, B]);
    expect(again.nodes).toBe(first.nodes);
    expect(again.secondaries).toBe(first.secondaries);
    expect(again.arbiters).toBe(UNKNOWN_VIEW.arbiters);
  });
});

describe('readProperty', () => {
  it('returns the value, and raises where the property has none (address while load-balancing)', () => {
    const twoMongoses = deriveView(
      snapshotAfter((d) => {
        d.open([A, B], 'Unknown', null);
        d.heartbeat(A, hello('mongos'));
        d.heartbeat(B, hello('mongos'));
      }),
    );
    expect(readProperty(twoMongoses, 'nodes')).toEqual([A, B]);
    expect(twoMongoses.address).toBeNull();
    expect(() => readProperty(twoMongoses, 'address')).toThrow(InvalidOperationError);
    expect(readProperty(UNKNOWN_VIEW, 'address')).toBeNull();
  });
});

describe('compatible', () => {
  it('follows the driver: false while a server speaks a wire version it cannot, as getter and subject', async () => {
    const driver = new FakeDriver();
    const state = new TopologyState(driver.asClient);
    const seen: boolean[] = [];
    const subscription = state.compatible$.subscribe((c) => seen.push(c));
    expect(state.compatible).toBe(true);

    driver.open([A], 'Single', null);
    driver.heartbeat(A, hello('standalone', { maxWireVersion: 2 }));
    await settle();
    expect(state.compatible).toBe(false);
    expect(state.compatible$.value).toBe(false);
    expect(state.topologyDescription.compatibilityError).toMatch(/wire version 2/);

    driver.heartbeat(A, hello('standalone'));
    await settle();
    expect(state.compatible).toBe(true);
    expect(seen).toEqual([true, false, true]);
    subscription.unsubscribe();
    state.complete();
  });
});
