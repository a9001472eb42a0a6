/**
 * The command-line side the demos share: integer flags checked with a
 * message naming the flag, a run on the server ladder (MONGODB_URI →
 * mongodb-memory-server → the wire test server), and the exit with the
 * demo's verdict.
 */
import { startBackend, type StartedBackend } from '../../spec/support/ladder';

/** `text` as an integer from `min` to `max`; throws naming the flag `name` otherwise. */
export function integer(text: string | undefined, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

/** Runs `demo` on a backend of the ladder, started first and stopped after. */
export async function onLadder<T>(demo: (backend: StartedBackend) => Promise<T>): Promise<T> {
  const backend = await startBackend();
  console.log(`server: ${backend.kind} (${backend.reason})`);
  try {
    return await demo(backend);
  } finally {
    await backend.stop();
  }
}

/** Exits with the code `main` resolves with, or with 1 and the message of what it rejected with. */
export function exitWith(main: Promise<number>): void {
  main.then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
