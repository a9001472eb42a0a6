/**
 * `npm run demo:es`: the event-sourcing demo. A producer appends order
 * events; a projector process keeps account balances with `consume()` and a
 * `CollectionCheckpointStore`; the projector is killed with SIGKILL several
 * times mid-stream and restarted. Prints the proof and exits 0 only when no
 * event was lost and the projection equals a from-scratch recomputation.
 *
 *   npm run demo:es -- --events 2000 --kills 4
 *
 * Runs on the server ladder (MONGODB_URI → mongodb-memory-server → the wire
 * test server), like the specs.
 */
import { parseArgs } from 'node:util';
import { redactConnectionString } from '../../lib';
import { exitWith, integer, onLadder } from '../support/cli';
import { runEventSourcingDemo } from './run';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '2000' },
      kills: { type: 'string', default: '4' },
      rate: { type: 'string', default: '250' },
      database: { type: 'string', default: 'rxmongo_es_demo' },
    },
  });
  const events = integer(values.events, '--events', 1, 1_000_000);
  const kills = integer(values.kills, '--kills', 0, 100);
  const rate = integer(values.rate, '--rate', 1, 100_000);

  return onLadder(async (backend) => {
    console.log(`database ${values.database} on ${redactConnectionString(backend.uri)} (dropped first)`);
    const proof = await runEventSourcingDemo({
      uri: backend.uri,
      database: values.database,
      events,
      kills,
      rate,
      log: (line) => console.log(`  ${line}`),
    });
    const ok = proof.lost === 0 && proof.projectionMatches && proof.processed === proof.produced;
    console.log(`
proof
  events produced           ${proof.produced}
  events processed          ${proof.processed}
  projector SIGKILLs        ${proof.kills} (${proof.starts} starts)
  checkpoints saved         ${proof.checkpointsSaved}
  duplicates absorbed       ${proof.duplicates} (idempotent apply; at most ${proof.duplicateBound} expected)
  lost                      ${proof.lost}
  projection == recomputed  ${proof.projectionMatches ? 'yes, every account' : 'NO'}`);
    for (const mismatch of proof.mismatches) console.log(`    ${mismatch}`);
    console.log(ok ? '\nOK: zero events lost across the crashes' : '\nFAILED');
    return ok ? 0 : 1;
  });
}

exitWith(main());
