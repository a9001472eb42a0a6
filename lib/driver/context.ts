import type { MongoClient, TopologyDescription } from 'mongodb';
import type { SchedulerLike } from 'rxjs';
import { ClientClosedError } from '../errors';

/** Teardown registered with {@link ClientContext.onClose}; may be async. */
export type CloseHook = () => void | Promise<void>;

/** The largest document every MongoDB server accepts (`maxBsonObjectSize` in its hello reply). */
const DEFAULT_MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;

/**
 * What every object made by one `RxMongoClient` shares: the driver client,
 * the delivery scheduler and the open/closed state. Databases, collections,
 * sessions (and later topology subjects and change streams) hold this, not
 * the client, so the bridges need nothing else.
 */
export class ClientContext {
  private closing: Promise<void> | undefined;
  private readonly hooks = new Set<CloseHook>();
  private sizedDescription: TopologyDescription | undefined;
  private maxBsonSize = DEFAULT_MAX_BSON_OBJECT_SIZE;

  constructor(
    readonly driver: MongoClient,
    readonly scheduler: SchedulerLike | undefined,
    /** Whether unsubscribing aborts a cancellable call in flight (`onUnsubscribe: 'abort'`), or only drops its result. */
    readonly abortsCalls = true,
  ) {
    driver.on('topologyClosed', this.recoverFromFailedConnect);
  }

  /** True from the moment `close()` starts. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * The largest document the server takes: `maxBsonObjectSize` from the
   * hello reply of a known server, 16 MiB (every server's value) before the
   * first reply.
   */
  get maxBsonObjectSize(): number {
    const description = (this.driver as { topology?: { description?: TopologyDescription } }).topology?.description;
    // Read per sized call: recomputed only when the driver has a new description.
    if (description !== this.sizedDescription) {
      this.sizedDescription = description;
      this.maxBsonSize = DEFAULT_MAX_BSON_OBJECT_SIZE;
      for (const server of description?.servers.values() ?? []) {
        if (server.maxBsonObjectSize) {
          this.maxBsonSize = server.maxBsonObjectSize;
          break;
        }
      }
    }
    return this.maxBsonSize;
  }

  /** Throws `ClientClosedError` once the client is closed. */
  assertOpen(): void {
    if (this.closing !== undefined) throw new ClientClosedError();
  }

  /**
   * Connects the driver client now (discovery and a first server selected);
   * resolves at once when it already is. Rejects with `ClientClosedError`
   * after `close()`, else with the driver's error (e.g.
   * `MongoServerSelectionError`), after which the next call tries afresh.
   */
  async connect(): Promise<void> {
    this.assertOpen();
    await this.driver.connect();
  }

  /**
   * Registers teardown that runs once, when `close()` starts and before the
   * driver client closes. Returns a function that unregisters it. On an
   * already closed client the hook runs at once.
   */
  onClose(hook: CloseHook): () => void {
    if (this.closing !== undefined) {
      void runHook(hook);
      return () => {};
    }
    this.hooks.add(hook);
    return () => {
      this.hooks.delete(hook);
    };
  }

  /** Closes once; later calls share the first call's outcome. */
  close(): Promise<void> {
    this.closing ??= this.runClose();
    return this.closing;
  }

  private async runClose(): Promise<void> {
    this.driver.off('topologyClosed', this.recoverFromFailedConnect);
    const hooks = [...this.hooks];
    this.hooks.clear();
    await Promise.all(hooks.map(runHook));
    await this.driver.close();
  }

  /**
   * When the driver's first connection fails (no server selectable in time)
   * it closes the topology it made but keeps it, and every later operation
   * fails with "Topology is closed" even once the server is up. Dropping
   * the dead topology puts the driver back in its not-yet-connected state,
   * so its next operation connects afresh — for our calls, cursors, change
   * streams and `client.driver` alike. Only the driver's own `close()` (ours
   * runs after this listener is gone) closes a topology otherwise.
   */
  private readonly recoverFromFailedConnect = (): void => {
    if (this.closing !== undefined) return;
    const driver = this.driver as { topology?: { isConnected(): boolean } };
    if (driver.topology && !driver.topology.isConnected()) driver.topology = undefined;
  };
}

/** A hook's failure must not keep the driver client open. */
async function runHook(hook: CloseHook): Promise<void> {
  try {
    await hook();
  } catch {
    // Teardown errors have no caller to go to; the client closes regardless.
  }
}
