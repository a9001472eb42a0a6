import type { MongoClient } from 'mongodb';
import type { SchedulerLike } from 'rxjs';
import { ClientClosedError } from '../errors';

/** Teardown registered with {@link ClientContext.onClose}; may be async. */
export type CloseHook = () => void | Promise<void>;

/**
 * What every object made by one `RxMongoClient` shares: the driver client,
 * the delivery scheduler and the open/closed state. Databases, collections,
 * sessions (and later topology subjects and change streams) hold this, not
 * the client, so the bridges need nothing else.
 */
export class ClientContext {
  private closing: Promise<void> | undefined;
  private readonly hooks = new Set<CloseHook>();

  constructor(
    readonly driver: MongoClient,
    readonly scheduler: SchedulerLike | undefined,
  ) {}

  /** True from the moment `close()` starts. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Throws `ClientClosedError` once the client is closed. */
  assertOpen(): void {
    if (this.closing !== undefined) throw new ClientClosedError();
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
    const hooks = [...this.hooks];
    this.hooks.clear();
    await Promise.all(hooks.map(runHook));
    await this.driver.close();
  }
}

/** A hook's failure must not keep the driver client open. */
async function runHook(hook: CloseHook): Promise<void> {
  try {
    await hook();
  } catch {
    // Teardown errors have no caller to go to; the client closes regardless.
  }
}
