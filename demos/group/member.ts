/**
 * One member of the consumer-group demo, run as its own process so the demo
 * can kill it: consumes the changes of `<db>.<collection>` as a member of
 * group `<key>` (a CollectionCheckpointStore in `<db>.checkpoints`) and
 * reports on stdout, one JSON object a line:
 *
 * - `{"t":"h","d":<_id>,"s":<seq>}` for each change handled, printed before
 *   the change is acknowledged;
 * - `{"t":"joined"|"assigned"|"revoked"|"left", ...}` as the member's share changes;
 * - `{"t":"progress","partition":…,"handled":…,"lagMS":…}` at each partition checkpoint.
 *
 *   node --import tsx demos/group/member.ts <uri> <db> <collection> <key> <partitions> <leaseMS> <workMS>
 *
 * SIGTERM leaves the group cleanly (last saves, leases released).
 */
import type { ChangeStreamInsertDocument, ChangeStreamUpdateDocument } from 'mongodb';
import { lastValueFrom, timer } from 'rxjs';
import { map } from 'rxjs/operators';
import { CollectionCheckpointStore, RxMongoClient, type CheckpointDocument } from '../../lib';

interface Counter {
  _id: number;
  s: number;
}

const [uri, dbName, collection, key, partitions, leaseMS, workMS] = process.argv.slice(2);
if (!uri || !dbName || !collection || !key || !partitions || !leaseMS || !workMS) {
  process.stderr.write('usage: member.ts <uri> <db> <collection> <key> <partitions> <leaseMS> <workMS>\n');
  process.exit(2);
}

const say = (line: object): boolean => process.stdout.write(`${JSON.stringify(line)}\n`);
const client = new RxMongoClient(uri, { appName: 'rxmongo-group-demo', serverSelectionTimeoutMS: 10_000 });
const db = client.db(dbName);
const store = new CollectionCheckpointStore(
  db.collection<CheckpointDocument>('checkpoints').withOptions({ writeConcern: { w: 'majority' } }).driver,
);
const stream = db
  .collection<Counter>(collection)
  .watch<Counter, ChangeStreamInsertDocument<Counter> | ChangeStreamUpdateDocument<Counter>>(
    [{ $match: { operationType: { $in: ['insert', 'update'] } } }],
    {
      maxAwaitTimeMS: 200,
      checkpoint: { store, key, every: { events: 25, ms: 250 } },
      group: { partitions: Number(partitions), leaseMS: Number(leaseMS) },
    },
  );

const status = stream.status$.subscribe((s) => {
  switch (s.type) {
    case 'joined':
      return say({ t: s.type, member: s.member });
    case 'assigned':
    case 'revoked':
      return say({ t: s.type, partitions: s.partitions, owned: s.owned, ...(s.type === 'revoked' ? { reason: s.reason } : {}) });
    case 'progress':
      return say({ t: s.type, partition: s.partition, handled: s.handled, lagMS: s.lagMS });
    case 'left':
      return say({ t: s.type });
    default:
  }
});

// The handler does `workMS` of asynchronous work (a projection's write, say) per change.
const consuming = stream
  .consume((change) => {
    const seq = change.operationType === 'insert' ? change.fullDocument.s : (change.updateDescription.updatedFields?.s as number);
    return timer(Number(workMS)).pipe(map(() => say({ t: 'h', d: change.documentKey._id, s: seq })));
  })
  .subscribe({
    error: (error: unknown) => {
      process.stderr.write(`member failed: ${String(error)}\n`);
      process.exit(1);
    },
  });

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
