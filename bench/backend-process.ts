/**
 * Child process of the bench: starts a server from the ladder and prints one
 * JSON line describing it. The server runs here, not in the bench process,
 * so its CPU and event loop are not counted against either client (as with
 * a real mongod). Stops when the parent closes stdin or exits.
 */
import { startBackend } from '../spec/support/ladder';

async function main(): Promise<void> {
  const backend = await startBackend();
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
