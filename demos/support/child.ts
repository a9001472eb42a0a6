/**
 * The side of the demos' consumer processes (and the group spec's member)
 * that is the same in each: reports to the parent as JSON lines on stdout,
 * checkpoints in `<db>.checkpoints`, and a clean exit on SIGTERM.
 */
import type { Subscription } from 'rxjs';
import { lastValueFrom } from 'rxjs';
import { CollectionCheckpointStore, type CheckpointDocument, type RxDatabase, type RxMongoClient } from '../../lib';

/** Writes `line` to stdout as one line of JSON, for the parent process to read. */
export function report(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** A store in `<db>.checkpoints`; majority writes, so a checkpoint survives a failover. */
export function checkpointStore(db: RxDatabase): CollectionCheckpointStore {
  return new CollectionCheckpointStore(
    db.collection<CheckpointDocument>('checkpoints').withOptions({ writeConcern: { w: 'majority' } }).driver,
  );
}

/**
 * On SIGTERM: stops `consuming`, closes `client` (which waits for the last
 * checkpoint saves and lease releases), then drops `status` (so the final
 * statuses are still reported) and exits 0, or 1 when closing failed.
 */
export function exitOnSigterm(client: RxMongoClient, consuming: Subscription, status: Subscription): void {
  process.once('SIGTERM', () => {
    consuming.unsubscribe();
    lastValueFrom(client.close(), { defaultValue: undefined }).then(
      () => {
        status.unsubscribe();
        process.exit(0);
      },
      () => process.exit(1),
    );
  });
}
