/**
 * The projector, run as its own process so it can be killed: consumes the
 * `orderEvents` change stream with `consume()` and keeps its position in a
 * `CollectionCheckpointStore`, so a restart continues after the last saved
 * checkpoint. Reports on stdout, one JSON object a line: `opened`,
 * `checkpointed`, `applied`/`duplicate` (with the event id), `error`.
 *
 *   MONGODB_URI=<uri> node --import tsx demos/event-sourcing/consumer.ts <database> <checkpoint key>
 *
 * SIGTERM stops it cleanly (last checkpoint saved, cursor killed).
 */
import type { ChangeStreamInsertDocument } from 'mongodb';
import { tap } from 'rxjs';
import { RxMongoClient } from '../../lib';
import { checkpointStore, exitOnSigterm, report } from '../support/child';
import { applyEvent, CHECKPOINT_EVERY, type Balance, type OrderEvent } from './projection';

function main(): void {
  // The connection string comes by environment: argv is visible to every local user.
  const uri = process.env.MONGODB_URI;
  const [database, key] = process.argv.slice(2);
  if (!uri || !database || !key) {
    console.error('usage: MONGODB_URI=<uri> consumer.ts <database> <checkpoint key>');
    process.exit(2);
  }
  const client = new RxMongoClient(uri, { appName: 'rxmongo-es-consumer' });
  const db = client.db(database);
  const balances = db.collection<Balance>('balances');
  const events = db
    .collection<OrderEvent>('orderEvents')
    .watch<OrderEvent, ChangeStreamInsertDocument<OrderEvent>>([{ $match: { operationType: 'insert' } }], {
      checkpoint: { store: checkpointStore(db), key, every: { events: CHECKPOINT_EVERY, ms: 250 } },
    });

  const status = events.status$.subscribe((s) => {
    if (s.type === 'opened' || s.type === 'checkpointed' || s.type === 'resumed' || s.type === 'historyLost') report({ t: s.type });
  });
  const projecting = events
    .consume((change) =>
      applyEvent(balances, change.fullDocument).pipe(tap((outcome) => report({ t: outcome, id: change.fullDocument._id }))),
    )
    .subscribe({
      error: (error: unknown) => {
        report({ t: 'error', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        process.exit(1);
      },
    });

  exitOnSigterm(client, projecting, status);
}

main();
