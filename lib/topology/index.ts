/**
 * Topology as state that emits (DESIGN.md §3). The driver runs SDAM and tells
 * about it only through events; {@link TopologyState} listens to them and
 * keeps Motor's topology properties as read-only BehaviorSubjects.
 */
import { BehaviorSubject, type SchedulerLike } from 'rxjs';
import type { MongoClient, MongoClientEvents, TopologyDescription } from 'mongodb';
import { InvalidOperationError } from '../errors';
import { readonlyBehaviorSubject, type ReadonlyBehaviorSubject } from './readonly-behavior-subject';
import {
  deriveView,
  summarizeError,
  TopologySnapshotBuilder,
  UNKNOWN_VIEW,
  type ErrorSummary,
  type ServerAddress,
  type TopologySnapshot,
  type TopologyView,
} from './snapshot';

export type { ReadonlyBehaviorSubject } from './readonly-behavior-subject';
export type { ErrorSummary, ServerAddress, ServerSnapshot, TopologySnapshot } from './snapshot';

/** Options of {@link TopologyState}. */
export interface TopologyStateOptions {
  /** Where the subjects deliver their values (the client's `scheduler`); synchronously when absent. */
  scheduler?: SchedulerLike;
}

type Subjects = { [K in Exclude<keyof TopologyView, 'addressAmbiguous'>]: BehaviorSubject<TopologyView[K]> };

/**
 * Motor's topology properties (`address`, `primary`, `secondaries`,
 * `arbiters`, `nodes`, `is_primary`, `is_mongos`, `topology_description`) as
 * synchronous getters and as read-only BehaviorSubjects, fed by the driver's
 * SDAM monitoring events on one `MongoClient`.
 *
 * - Starts unknown: empty lists, `null` addresses, `false` flags.
 * - Refreshes on every heartbeat and every description change; events of one
 *   driver step (a heartbeat and the description change it causes) make one
 *   refresh, and each subject emits exactly once per refresh. Unchanged values
 *   are re-emitted as the same frozen object, so `distinctUntilChanged()` gives
 *   changes only.
 * - Subscribing to a subject connects the driver if it is not connected (a
 *   failed attempt shows as `topologyDescription.error`); reading a getter or
 *   `value` never connects.
 * - {@link TopologyState.complete} removes every listener it added and
 *   completes the subjects. Create it before the driver connects, or it waits
 *   for the next heartbeat to catch up.
 *
 * Addresses are the driver's `'host:port'` strings (Motor: `(host, port)`).
 *
 * @example
 * const state = new TopologyState(driverClient);
 * state.primary$.pipe(distinctUntilChanged()).subscribe((p) => console.log('primary', p));
 */
export class TopologyState {
  /**
   * The current standalone, primary or mongos, or `null` (Motor's `address`).
   * Holds `null` where the {@link TopologyState.address} getter raises.
   */
  readonly address$: ReadonlyBehaviorSubject<ServerAddress | null>;
  /** The replica set's primary, or `null` (Motor's `primary`). */
  readonly primary$: ReadonlyBehaviorSubject<ServerAddress | null>;
  /** The replica set's secondaries, sorted (Motor's `secondaries`). */
  readonly secondaries$: ReadonlyBehaviorSubject<readonly ServerAddress[]>;
  /** The replica set's arbiters, sorted (Motor's `arbiters`). */
  readonly arbiters$: ReadonlyBehaviorSubject<readonly ServerAddress[]>;
  /** Every server the client currently reaches, sorted (Motor's `nodes`). */
  readonly nodes$: ReadonlyBehaviorSubject<readonly ServerAddress[]>;
  /** Whether a server accepting writes is known: standalone, primary, mongos or load balancer (Motor's `is_primary`). */
  readonly isPrimary$: ReadonlyBehaviorSubject<boolean>;
  /** Whether the client talks to mongos, directly or through a load balancer (Motor's `is_mongos`). */
  readonly isMongos$: ReadonlyBehaviorSubject<boolean>;
  /** The deployment as a deep-frozen, serializable snapshot (Motor's `topology_description`). */
  readonly topologyDescription$: ReadonlyBehaviorSubject<TopologySnapshot>;

  private view: TopologyView = UNKNOWN_VIEW;
  private readonly subjects: Subjects;
  private readonly builder = new TopologySnapshotBuilder();
  private readonly detach: Array<() => void> = [];
  /** The driver has an open topology (an event said so and no `topologyClosed` since). */
  private live = false;
  private connecting = false;
  private completed = false;
  private refreshQueued = false;
  private connectError: ErrorSummary | null = null;
  private lastEventDescription: TopologyDescription | null = null;

  constructor(
    private readonly client: MongoClient,
    options: TopologyStateOptions = {},
  ) {
    const v = UNKNOWN_VIEW;
    this.subjects = {
      topologyDescription: new BehaviorSubject(v.topologyDescription),
      address: new BehaviorSubject(v.address),
      primary: new BehaviorSubject(v.primary),
      secondaries: new BehaviorSubject(v.secondaries),
      arbiters: new BehaviorSubject(v.arbiters),
      nodes: new BehaviorSubject(v.nodes),
      isPrimary: new BehaviorSubject(v.isPrimary),
      isMongos: new BehaviorSubject(v.isMongos),
    };
    const expose = <K extends keyof Subjects>(key: K): ReadonlyBehaviorSubject<TopologyView[K]> =>
      readonlyBehaviorSubject(this.subjects[key], () => this.view[key], this.ensureConnected, options.scheduler);
    this.topologyDescription$ = expose('topologyDescription');
    this.address$ = expose('address');
    this.primary$ = expose('primary');
    this.secondaries$ = expose('secondaries');
    this.arbiters$ = expose('arbiters');
    this.nodes$ = expose('nodes');
    this.isPrimary$ = expose('isPrimary');
    this.isMongos$ = expose('isMongos');

    // serverDescriptionChanged is left out: the driver always follows it with
    // topologyDescriptionChanged in the same step.
    this.listen('topologyOpening', () => {
      this.connectError = null;
      this.refresh();
    });
    this.listen('topologyDescriptionChanged', (event) => {
      this.lastEventDescription = event.newDescription;
      this.refresh();
    });
    this.listen('serverHeartbeatSucceeded', () => this.refresh());
    this.listen('serverHeartbeatFailed', () => this.refresh());
    this.listen('topologyClosed', () => {
      this.live = false;
      this.lastEventDescription = null;
      this.queueRefresh();
    });
  }

  /**
   * The current standalone, primary or mongos address, or `null` (Motor's
   * `address`).
   *
   * @throws {@link InvalidOperationError} when there is no single address: the
   * driver balances among several mongoses, or a load balancer does. Use
   * {@link TopologyState.nodes} instead.
   */
  get address(): ServerAddress | null {
    if (this.view.addressAmbiguous) {
      throw new InvalidOperationError(
        `no single address: the client is load-balancing (${this.view.topologyDescription.type}); use nodes instead`,
      );
    }
    return this.view.address;
  }

  /** The replica set's primary, or `null` (Motor's `primary`). */
  get primary(): ServerAddress | null {
    return this.view.primary;
  }

  /** The replica set's secondaries, sorted (Motor's `secondaries`). */
  get secondaries(): readonly ServerAddress[] {
    return this.view.secondaries;
  }

  /** The replica set's arbiters, sorted (Motor's `arbiters`). */
  get arbiters(): readonly ServerAddress[] {
    return this.view.arbiters;
  }

  /** Every server the client currently reaches, sorted (Motor's `nodes`). */
  get nodes(): readonly ServerAddress[] {
    return this.view.nodes;
  }

  /** Whether a server accepting writes is known (Motor's `is_primary`). */
  get isPrimary(): boolean {
    return this.view.isPrimary;
  }

  /** Whether the client talks to mongos (Motor's `is_mongos`). */
  get isMongos(): boolean {
    return this.view.isMongos;
  }

  /** The deployment as a deep-frozen, serializable snapshot (Motor's `topology_description`). */
  get topologyDescription(): TopologySnapshot {
    return this.view.topologyDescription;
  }

  /**
   * Stops listening to the driver, emits the unknown state if anything was
   * known, and completes every subject. Idempotent; later subscribers
   * complete at once and connect nothing.
   */
  complete(): void {
    if (this.completed) return;
    this.completed = true;
    for (const detach of this.detach.splice(0)) detach();
    this.publish(this.builder.build(null, null, Date.now()));
    for (const subject of Object.values(this.subjects)) subject.complete();
  }

  private listen<E extends keyof MongoClientEvents>(event: E, listener: MongoClientEvents[E]): void {
    this.client.on(event, listener);
    this.detach.push(() => this.client.off(event, listener));
  }

  private readonly ensureConnected = (): void => {
    if (this.completed || this.live || this.connecting) return;
    this.connecting = true;
    this.client.connect().then(
      () => {
        this.connecting = false;
      },
      (error: unknown) => {
        this.connecting = false;
        if (this.completed) return;
        this.connectError = summarizeError(error);
        this.queueRefresh();
      },
    );
  };

  private refresh(): void {
    this.live = true;
    this.queueRefresh();
  }

  /**
   * Heartbeat events fire before the driver applies the reply to its
   * description, and one reply can also fire description changes; reading
   * after the current step settles gives one refresh with the final state.
   */
  private queueRefresh(): void {
    if (this.refreshQueued) return;
    this.refreshQueued = true;
    queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    this.refreshQueued = false;
    if (this.completed) return;
    const description = this.live ? (driverDescription(this.client) ?? this.lastEventDescription) : null;
    this.publish(this.builder.build(description, this.connectError, Date.now()));
  };

  private publish(topology: TopologySnapshot): void {
    // Closing when nothing was known: no refresh to announce.
    if (this.completed && topology === this.view.topologyDescription) return;
    const view = deriveView(topology, this.view);
    this.view = view;
    const s = this.subjects;
    s.topologyDescription.next(view.topologyDescription);
    s.nodes.next(view.nodes);
    s.primary.next(view.primary);
    s.secondaries.next(view.secondaries);
    s.arbiters.next(view.arbiters);
    s.address.next(view.address);
    s.isPrimary.next(view.isPrimary);
    s.isMongos.next(view.isMongos);
  }
}

/**
 * The driver's current description. It lives on the client's topology (not
 * in the driver's public types); heartbeats that change only round-trip time
 * update it without any change event, so it is fresher than the last event's.
 */
function driverDescription(client: MongoClient): TopologyDescription | undefined {
  return (client as { topology?: { description?: TopologyDescription } }).topology?.description;
}
