/**
 * Topology as state that emits (DESIGN.md §3). The driver runs SDAM and tells
 * about it only through events; {@link TopologyState} listens to them and
 * keeps one BehaviorSubject of an immutable {@link TopologyView}. The Motor
 * properties, as getters and read-only subjects, are projections of it
 * declared once, in the table of `./properties`.
 */
import { BehaviorSubject, map, type SchedulerLike } from 'rxjs';
import type { MongoClient, MongoClientEvents, TopologyDescription } from 'mongodb';
import { readonlyBehaviorSubject, type ReadonlyBehaviorSubject } from './readonly-behavior-subject';
import { installTopologyMembers, type TopologyMembers, type TopologySource } from './members';
import { deriveView, readProperty, TOPOLOGY_KEYS, UNKNOWN_VIEW, type TopologyKey, type TopologyView } from './properties';
import { summarizeError, TopologySnapshotBuilder, type ErrorSummary, type TopologySnapshot } from './snapshot';

export type { ReadonlyBehaviorSubject } from './readonly-behavior-subject';
export { installTopologyMembers, type TopologyMembers } from './members';
export type { ErrorSummary, ServerAddress, ServerSnapshot, TopologySnapshot } from './snapshot';

/** Options of {@link TopologyState}. */
interface TopologyStateOptions {
  /** Where the subjects deliver their values (the client's `scheduler`); synchronously when absent. */
  scheduler?: SchedulerLike;
}

type Subjects = { readonly [K in TopologyKey]: ReadonlyBehaviorSubject<TopologyView[K]> };

/** The getters and subjects of every topology property (see {@link TopologyMembers}). @internal */
export interface TopologyState extends TopologyMembers {}

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
 * @internal
 */
export class TopologyState implements TopologySource {
  /** The only state: every subject and getter projects it. */
  private readonly view$ = new BehaviorSubject<TopologyView>(UNKNOWN_VIEW);
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
    const subject = <K extends TopologyKey>(key: K) =>
      readonlyBehaviorSubject(
        this.view$.pipe(map((view) => view[key])),
        () => this.view$.value[key],
        this.ensureConnected,
        options.scheduler,
      );
    this.subjects = Object.fromEntries(TOPOLOGY_KEYS.map((key) => [key, subject(key)])) as unknown as Subjects;

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

  /** @internal */
  read<K extends TopologyKey>(key: K): TopologyView[K] {
    return readProperty(this.view$.value, key);
  }

  /** @internal */
  subject<K extends TopologyKey>(key: K): ReadonlyBehaviorSubject<TopologyView[K]> {
    return this.subjects[key];
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
    this.view$.complete();
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
    const previous = this.view$.value;
    // Closing when nothing was known: no refresh to announce.
    if (this.completed && topology === previous.topologyDescription) return;
    this.view$.next(deriveView(topology, previous));
  }
}

installTopologyMembers(TopologyState.prototype, (state: TopologyState) => state);

/**
 * The driver's current description. It lives on the client's topology (not
 * in the driver's public types); heartbeats that change only round-trip time
 * update it without any change event, so it is fresher than the last event's.
 */
function driverDescription(client: MongoClient): TopologyDescription | undefined {
  return (client as { topology?: { description?: TopologyDescription } }).topology?.description;
}
