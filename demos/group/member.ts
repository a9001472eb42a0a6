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
import { timer } from 'rxjs';
import { map } from 'rxjs/operators';
import { RxMongoClient } from '../../lib';
import { exitOnSigterm, report } from '../support/child';
import { sequenceOf, watchAsMember } from './counters';

const [uri, dbName, collection, key, partitions, leaseMS, workMS] = process.argv.slice(2);
if (!uri || !dbName || !collection || !key || !partitions || !leaseMS || !workMS) {
  process.stderr.write('usage: member.ts <uri> <db> <collection> <key> <partitions> <leaseMS> <workMS>\n');
  process.exit(2);
}

const client = new RxMongoClient(uri, { appName: 'rxmongo-group-demo', serverSelectionTimeoutMS: 10_000 });
const stream = watchAsMember(client.db(dbName), collection, {
  key,
  partitions: Number(partitions),
  leaseMS: Number(leaseMS),
  maxAwaitTimeMS: 200,
  every: { events: 25, ms: 250 },
});

const status = stream.status$.subscribe((s) => {
  switch (s.type) {
    case 'joined':
      return report({ t: s.type, member: s.member });
    case 'assigned':
    case 'revoked':
      return report({ t: s.type, partitions: s.partitions, owned: s.owned, ...(s.type === 'revoked' ? { reason: s.reason } : {}) });
    case 'progress':
      return report({ t: s.type, partition: s.partition, handled: s.handled, lagMS: s.lagMS });
    case 'left':
      return report({ t: s.type });
    default:
  }
});

// The handler does `workMS` of asynchronous work (a projection's write, say) per change.
const consuming = stream
  .consume((change) => timer(Number(workMS)).pipe(map(() => report({ t: 'h', d: change.documentKey._id, s: sequenceOf(change) }))))
  .subscribe({
    error: (error: unknown) => {
      process.stderr.write(`member failed: ${String(error)}\n`);
      process.exit(1);
    },
  });

exitOnSigterm(client, consuming, status);
