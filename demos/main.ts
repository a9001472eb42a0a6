/**
 * Placeholder main demo until the demos issue lands: starts the embedded
 * default server from the ladder and prints its connection string.
 */
import { startBackend } from '../spec/support/ladder';

async function main(): Promise<void> {
  const backend = await startBackend();
  console.log(`rxmongo demo server: ${backend.kind} (${backend.reason})`);
  console.log(backend.uri);
  console.log('The dashboard demo is not built yet; press Ctrl-C to stop the server.');
  const stop = () => {
    backend.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
