/**
 * `npm run demo:group`: a consumer group of member processes splits one
 * collection's changes; one member is SIGKILLed on a timer and restarted.
 * Shows partitions, changes handled and lag per member as it runs, then the
 * proof; exits 0 only when no change was lost and none was handled out of
 * order within a member.
 *
 *   npm run demo:group -- --members 3 --partitions 8 --kills 3
 *
 * Runs on the server ladder (MONGODB_URI → mongodb-memory-server → the wire
 * test server), like the specs.
 */
import { parseArgs } from 'node:util';
import { exitWith, integer, onLadder } from '../support/cli';
import { runGroupDemo } from './run';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      members: { type: 'string', default: '3' },
      partitions: { type: 'string', default: '8' },
      documents: { type: 'string', default: '40' },
      rounds: { type: 'string', default: '60' },
      kills: { type: 'string', default: '3' },
      'lease-ms': { type: 'string', default: '1500' },
      database: { type: 'string', default: 'rxmongo_group_demo' },
    },
  });
  const members = integer(values.members, '--members', 1, 16);
  const partitions = integer(values.partitions, '--partitions', 1, 1024);
  const documents = integer(values.documents, '--documents', 1, 10_000);
  const rounds = integer(values.rounds, '--rounds', 0, 10_000);
  const kills = integer(values.kills, '--kills', 0, 100);
  const leaseMS = integer(values['lease-ms'], '--lease-ms', 100, 600_000);

  return onLadder(async (backend) => {
    console.log(`database ${values.database} (dropped first)`);
    const proof = await runGroupDemo({
      uri: backend.uri,
      database: values.database,
      members,
      partitions,
      documents,
      rounds,
      kills,
      leaseMS,
      log: (text) => console.log(text.replace(/^/gm, '  ')),
    });
    const ok = proof.lost === 0 && proof.outOfOrder === 0 && proof.shares.every((s) => s <= proof.fairShare);
    console.log(`
proof
  changes produced          ${proof.produced}
  changes handled           ${proof.handled} (duplicates ${proof.duplicates}: at-least-once across kills and rebalances)
  member SIGKILLs           ${proof.kills} (${proof.starts} processes started)
  partitions taken over in  ${proof.rebalanceMS.map((ms) => `${ms} ms`).join(', ') || '-'} (leaseMS ${leaseMS})
  handled per process       ${proof.perProcess.map((p) => `${p.name} ${p.handled}`).join(', ')}
  final shares              ${proof.shares.join('/')} of ${partitions} (at most ${proof.fairShare} each)
  out of order              ${proof.outOfOrder}
  lost                      ${proof.lost}`);
    console.log(ok ? '\nOK: lost = 0, every document in order within each member' : '\nFAILED');
    return ok ? 0 : 1;
  });
}

exitWith(main());
