import { CheckpointInUseError } from '../errors';

/**
 * One writer per checkpoint key within one `RxChangeStream`: the shared
 * subscription or one `consume()`. A new writer waits for the previous
 * writer's last save before it loads the checkpoint.
 */
export class CheckpointLease {
  private holder: object | undefined;
  private lastSave: Promise<void> = Promise.resolve();

  constructor(private readonly key: string) {}

  /** Takes the lease; throws `CheckpointInUseError` while another writer has it. */
  take(owner: object): Promise<void> {
    if (this.holder !== undefined && this.holder !== owner) throw new CheckpointInUseError(this.key);
    this.holder = owner;
    return this.lastSave;
  }

  /** Gives the lease up; `lastSave` settles when the owner's final save has. */
  release(owner: object, lastSave: Promise<void>): void {
    if (this.holder !== owner) return;
    this.holder = undefined;
    this.lastSave = lastSave;
  }
}
