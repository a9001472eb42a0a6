import { startBackend } from './ladder';

/**
 * Runs once per jest run: picks the backend (so a failed mongod download is
 * tried once per run, not once per file) and hands it to the workers through
 * the environment they inherit.
 */
export default async function globalSetup(): Promise<void> {
  const backend = await startBackend();
  process.env.RXMONGO_TEST_URI = backend.uri;
  process.env.RXMONGO_TEST_KIND = backend.kind;
  process.env.RXMONGO_TEST_CAPS = backend.capabilities.join(',');
  (globalThis as { __rxmongoBackend?: typeof backend }).__rxmongoBackend = backend;
  console.log(`\nrxmongodb test backend: ${backend.kind} (${backend.reason}) at ${backend.uri}`);
}
