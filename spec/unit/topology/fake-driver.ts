/**
 * A stand-in for the driver's `MongoClient` as TopologyState sees it: an
 * EventEmitter firing the SDAM monitoring events in the driver's order. The
 * descriptions are the driver's own `TopologyDescription`/`ServerDescription`
 * objects, moved by the driver's own `update`, so the SDAM transitions are real.
 */
import { EventEmitter } from 'node:events';
import type { Document, MongoClient, ServerDescription, TopologyDescription, TopologyType } from 'mongodb';
import { ObjectId } from 'mongodb';

// The driver exports these classes as types only; the runtime classes live in its sdam modules.
const { TopologyDescription: TopologyDescriptionClass } = require('mongodb/lib/sdam/topology_description') as {
  TopologyDescription: new (type: TopologyType, servers?: Map<string, ServerDescription>, setName?: string | null) => TopologyDescription;
};
const { ServerDescription: ServerDescriptionClass } = require('mongodb/lib/sdam/server_description') as {
  ServerDescription: new (
    address: string,
    hello?: Document,
    options?: { roundTripTime?: number; minRoundTripTime?: number; error?: Error; loadBalanced?: boolean },
  ) => ServerDescription;
};

type DriverInternals = {
  update(sd: ServerDescription): TopologyDescription;
};

const SET_NAME = 'rs0';
const ELECTION_ID = new ObjectId('7fffffff0000000000000001');

/** hello replies a member in `role` would send. */
export function hello(role: 'primary' | 'secondary' | 'arbiter' | 'mongos' | 'standalone', extra: Document = {}): Document {
  const base: Document = { ok: 1, maxWireVersion: 21, minWireVersion: 0 };
  switch (role) {
    case 'mongos':
      return { ...base, msg: 'isdbgrid', isWritablePrimary: true, ...extra };
    case 'standalone':
      return { ...base, isWritablePrimary: true, ...extra };
    case 'primary':
      return { ...base, setName: SET_NAME, setVersion: 1, electionId: ELECTION_ID, isWritablePrimary: true, ...extra };
    case 'secondary':
      return { ...base, setName: SET_NAME, setVersion: 1, secondary: true, isWritablePrimary: false, ...extra };
    case 'arbiter':
      return { ...base, setName: SET_NAME, setVersion: 1, arbiterOnly: true, isWritablePrimary: false, ...extra };
  }
}

export class FakeDriver extends EventEmitter {
  /** Present like the driver's (internal) `client.topology` unless `exposeLive` is false. */
  topology?: { description: TopologyDescription };
  connectCalls = 0;
  private current = new TopologyDescriptionClass('Unknown');
  private settle?: { resolve: () => void; reject: (e: Error) => void };

  constructor(private readonly exposeLive = true) {
    super();
  }

  get asClient(): MongoClient {
    return this as unknown as MongoClient;
  }

  /** Like `MongoClient.connect()`: pending until {@link FakeDriver.finishConnect}. */
  connect(): Promise<void> {
    this.connectCalls += 1;
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  /** Settles the pending connect(); a failure closes the topology first, as the driver does. */
  finishConnect(error?: Error): void {
    if (error) this.close();
    if (error) this.settle?.reject(error);
    else this.settle?.resolve();
    this.settle = undefined;
  }

  /** topologyOpening and the first topologyDescriptionChanged, with `hosts` unknown. */
  open(hosts: string[], type: TopologyType = 'ReplicaSetNoPrimary', setName: string | null = SET_NAME): void {
    const servers = new Map(hosts.map((h) => [h, new ServerDescriptionClass(h)]));
    const description = new TopologyDescriptionClass(type, servers, type === 'Sharded' ? null : setName);
    this.emit('topologyOpening', { topologyId: 1 });
    this.replace(description);
  }

  heartbeat(address: string, reply: Document, rtt = 2): void {
    this.emit('serverHeartbeatSucceeded', { connectionId: address, duration: rtt, reply, awaited: false });
    this.apply(new ServerDescriptionClass(address, reply, { roundTripTime: rtt, minRoundTripTime: rtt }));
  }

  heartbeatFailed(address: string, failure: Error): void {
    this.emit('serverHeartbeatFailed', { connectionId: address, duration: 5, failure, awaited: false });
    this.apply(new ServerDescriptionClass(address, undefined, { error: failure }));
  }

  /** A load-balanced topology: the driver fakes the LB's description, with no monitor. */
  openLoadBalanced(host: string): void {
    this.emit('topologyOpening', { topologyId: 1 });
    this.replace(new TopologyDescriptionClass('LoadBalanced', new Map([[host, new ServerDescriptionClass(host)]])));
    this.apply(new ServerDescriptionClass(host, undefined, { loadBalanced: true }));
  }

  close(): void {
    this.emit('topologyClosed', { topologyId: 1 });
  }

  /** Listeners on the SDAM events TopologyState may use. */
  sdamListenerCount(): number {
    return [
      'topologyOpening',
      'topologyClosed',
      'topologyDescriptionChanged',
      'serverDescriptionChanged',
      'serverHeartbeatStarted',
      'serverHeartbeatSucceeded',
      'serverHeartbeatFailed',
    ].reduce((n, e) => n + this.listenerCount(e), 0);
  }

  private apply(sd: ServerDescription): void {
    const previous = this.current;
    const previousServer = previous.servers.get(sd.address);
    const next = (previous as unknown as DriverInternals).update(sd);
    this.setCurrent(next);
    const equal = (previousServer as unknown as { equals(o: ServerDescription): boolean } | undefined)?.equals(sd);
    if (!equal) {
      this.emit('serverDescriptionChanged', {
        topologyId: 1,
        address: sd.address,
        previousDescription: previousServer,
        newDescription: next.servers.get(sd.address),
      });
      this.emit('topologyDescriptionChanged', { topologyId: 1, previousDescription: previous, newDescription: next });
    }
  }

  private replace(description: TopologyDescription): void {
    const previous = this.current;
    this.setCurrent(description);
    this.emit('topologyDescriptionChanged', { topologyId: 1, previousDescription: previous, newDescription: description });
  }

  private setCurrent(description: TopologyDescription): void {
    this.current = description;
    if (this.exposeLive) this.topology = { description };
  }
}
