/**
 * Runs the wire test server as its own process, for demos, benchmarks and
 * crash tests in other processes:
 *
 *   npm run test-server -- --members 3 --port 27017
 *
 * The first line on stdout is the connection string (nothing else on it), so
 * a parent process can read it; a human-readable line follows. SIGINT and
 * SIGTERM shut the set down and exit 0. Bad flags print the usage to stderr
 * and exit 2.
 */
import { parseArgs } from 'node:util';
import { ReplicaSet, type ReplicaSetOptions } from './cluster';

const USAGE = `Usage: npm run test-server -- [options]

Starts the rxmongo wire test server (a MongoDB wire-protocol test double, not
MongoDB) and prints its connection string as the first line.

Options:
  --members <n>        data-bearing members (default 3)
  --port <port>        first port; members take consecutive ports; 0 picks free ones (default 27017)
  --host <host>        address to listen on and announce (default 127.0.0.1)
  --arbiter            add an arbiter after the data members
  --mongos             answer as mongos routers (msg: 'isdbgrid') instead of a replica set
  --set-name <name>    replica set name (default rs0)
  --history-size <n>   change-stream history kept, in oplog entries (default 100000)
  --auth               require authentication (SCRAM-SHA-256/SHA-1), as mongod --auth;
                       without --user, a client on localhost may create the first user
  --user <name:pwd>    a user with the root role on admin (repeatable; implies --auth)
  --help               print this help and exit
`;

class UsageError extends Error {}

/** Turns argv into replica-set options; throws {@link UsageError} on anything it does not understand. */
function parseCli(argv: string[]): ReplicaSetOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        members: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        arbiter: { type: 'boolean' },
        mongos: { type: 'boolean' },
        'set-name': { type: 'string' },
        'history-size': { type: 'string' },
        auth: { type: 'boolean' },
        user: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const members = integer(values.members ?? '3', '--members', 1, 50);
  const port = integer(values.port ?? '27017', '--port', 0, 65535);
  if (port !== 0 && port + members + (values.arbiter ? 1 : 0) - 1 > 65535) {
    throw new UsageError(`--port ${port} leaves no room for ${members} members`);
  }
  const host = values.host ?? '127.0.0.1';
  if (host.trim() === '') throw new UsageError('--host must not be empty');
  const setName = values['set-name'] ?? 'rs0';
  if (!/^[A-Za-z0-9_-]+$/.test(setName)) throw new UsageError(`--set-name '${setName}' may only hold letters, digits, '_' and '-'`);
  if (values.mongos && values.arbiter) throw new UsageError('--arbiter makes no sense with --mongos');
  const historySize = values['history-size'] === undefined
    ? undefined
    : integer(values['history-size'], '--history-size', 1, Number.MAX_SAFE_INTEGER);
  const users = (values.user ?? []).map((spec) => {
    const colon = spec.indexOf(':');
    if (colon <= 0 || colon === spec.length - 1) throw new UsageError(`--user takes name:password, got '${spec}'`);
    return { user: spec.slice(0, colon), pwd: spec.slice(colon + 1) };
  });
  const auth = values.auth || users.length > 0 ? { users } : undefined;
  return { members, port, host, setName, arbiter: values.arbiter ?? false, mongos: values.mongos ?? false, historySize, auth };
}

function integer(text: string, flag: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

async function main(): Promise<void> {
  let options: ReplicaSetOptions | 'help';
  try {
    options = parseCli(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`test-server: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const rs = await ReplicaSet.start(options);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`test-server: ${signal}, shutting down\n`);
    rs.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`test-server: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const kind = rs.mongos
    ? `${rs.members.length} mongos router(s)`
    : `replica set ${rs.setName}: primary ${rs.primary?.address}, ${rs.members.length - 1} other member(s)` +
      (options.arbiter ? ' including an arbiter' : '') + (rs.auth ? '; authentication required' : '');
  process.stdout.write(`${rs.uri}\n`);
  process.stdout.write(`rxmongo wire test server (a test double, not MongoDB) — ${kind}. Ctrl+C stops it.\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`test-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
