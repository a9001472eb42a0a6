/**
 * Child process of the bench: starts a server from the ladder and prints one
 * JSON line describing it. The server runs here, not in the bench process,
 * so its CPU and event loop are not counted against either client (as with
 * a real mongod). Stops when the parent closes stdin or exits.
 */
import { startBackend } from '../spec/support/ladder';

/**
 * The wire server keeps its oplog in memory, 100 000 entries by default; a
 * full run writes several times that, and workloads that replay their
 * history from its start in every round would find it gone (286). mongod's
 * oplog is sized in gigabytes, so give the test double room like it.
 */
const HISTORY_SIZE = 2_000_000;

async function main(): Promise<void> {
  const backend = await startBackend({ historySize: HISTORY_SIZE });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    backend.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.stdout.write(`${JSON.stringify({ kind: backend.kind, uri: backend.uri, reason: backend.reason })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench backend failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
