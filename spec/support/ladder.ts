/**
 * The server ladder (DESIGN.md §4): `MONGODB_URI` → mongodb-memory-server's
 * `MongoMemoryReplSet` → the in-process wire test server. Shared by the spec
 * run, the demos and the benchmark so they all pick a server the same way.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MongoClient } from 'mongodb';
import type { MongoBinary } from 'mongodb-memory-server';
import { ReplicaSet } from '../server';
import { BACKEND_KINDS, type BackendKind, type Capability } from './capabilities';

export interface StartedBackend {
  kind: BackendKind;
  uri: string;
  /** Why this rung of the ladder was chosen, for the one line a run prints. */
  reason: string;
  capabilities: Capability[];
  stop(): Promise<void>;
}

export interface LadderOptions {
  /** Replica-set members to start on the memory-server and wire rungs. */
  members?: number;
  /** `RXMONGO_TEST_BACKEND` value; defaults to the environment's. */
  force?: string;
}

export async function startBackend(options: LadderOptions = {}): Promise<StartedBackend> {
  const members = options.members ?? 3;
  const force = options.force ?? process.env.RXMONGO_TEST_BACKEND;
  if (force !== undefined && force !== '' && !BACKEND_KINDS.includes(force as BackendKind)) {
    throw new Error(`RXMONGO_TEST_BACKEND must be one of ${BACKEND_KINDS.join(', ')}; got '${force}'`);
  }
  const uri = process.env.MONGODB_URI;
  if (force === 'uri' || (!force && uri)) {
    if (!uri) throw new Error('RXMONGO_TEST_BACKEND=uri needs MONGODB_URI');
    return {
      kind: 'uri',
      uri,
      reason: force ? 'forced by RXMONGO_TEST_BACKEND=uri' : 'MONGODB_URI is set',
      capabilities: await probeCapabilities(uri),
      stop: async () => {},
    };
  }
  let downloadFailure = 'skipped by RXMONGO_TEST_BACKEND=wire';
  if (force !== 'wire') {
    try {
      return await startMemoryServer(members, force === 'memory-server');
    } catch (err) {
      if (force === 'memory-server') throw err;
      downloadFailure = `mongodb-memory-server unavailable: ${firstLine(err)}`;
    }
  }
  return startWire(members, force === 'wire' ? 'forced by RXMONGO_TEST_BACKEND=wire' : downloadFailure);
}

async function startMemoryServer(members: number, forced: boolean): Promise<StartedBackend> {
  const mms = await import('mongodb-memory-server');
  await findMongod(mms.MongoBinary, forced);
  const replSet = await mms.MongoMemoryReplSet.create({
    replSet: { count: members, args: ['--setParameter', 'enableTestCommands=1'] },
  });
  const uri = replSet.getUri();
  return {
    kind: 'memory-server',
    uri,
    reason: forced ? 'forced by RXMONGO_TEST_BACKEND=memory-server' : 'no MONGODB_URI; a mongod binary is available',
    capabilities: await probeCapabilities(uri),
    stop: async () => {
      await replSet.stop();
    },
  };
}

/** How long a failed look for a mongod binary is remembered: retrying each spec run or demo start costs seconds. */
const UNAVAILABLE_MEMO_MS = 10 * 60_000;

/**
 * Finds (or downloads) the mongod binary before any instance starts, so a
 * missing binary costs one quiet attempt: a failed `MongoMemoryReplSet.create`
 * prints a stack trace per member and leaves the other members downloading
 * in the background. A failure is remembered for a while (keyed by the
 * memory server's version, the platform and every `MONGOMS_*` setting), so
 * the specs, demos and benchmark started meanwhile go straight to the next rung.
 */
async function findMongod(binaries: typeof MongoBinary, forced: boolean): Promise<void> {
  const memo = unavailableMemoPath();
  if (!forced) {
    const remembered = readMemo(memo);
    if (remembered) {
      const minutes = Math.max(1, Math.round((UNAVAILABLE_MEMO_MS - (Date.now() - remembered.at)) / 60_000));
      throw new Error(`${remembered.reason} (remembered for ${minutes} more min)`);
    }
  }
  // One download attempt: the memory server's default of three retries waits ~8 s for a name that does not resolve.
  const retries = process.env.MONGOMS_MAX_RETRIES;
  if (retries === undefined) process.env.MONGOMS_MAX_RETRIES = '1';
  try {
    const path = await binaries.getPath();
    const version = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (version.status !== 0) {
      throw new Error(`mongod at ${path} does not run: ${firstLine(version.error ?? version.stderr)}`);
    }
  } catch (err) {
    const reason = describeBinaryFailure(err);
    writeMemo(memo, { at: Date.now(), reason });
    throw new Error(reason, { cause: err });
  } finally {
    if (retries === undefined) delete process.env.MONGOMS_MAX_RETRIES;
  }
}

interface Memo {
  at: number;
  reason: string;
}

function unavailableMemoPath(): string {
  const settings = Object.entries(process.env)
    .filter(([name]) => name.startsWith('MONGOMS_'))
    .sort(([a], [b]) => a.localeCompare(b));
  const { version } = require('mongodb-memory-server/package.json') as { version: string };
  const key = createHash('sha1')
    .update(JSON.stringify([version, process.platform, process.arch, settings]))
    .digest('hex')
    .slice(0, 16);
  return join(__dirname, '..', '..', 'node_modules', '.cache', 'rxmongodb', `no-mongod-${key}.json`);
}

function readMemo(path: string): Memo | undefined {
  try {
    const memo = JSON.parse(readFileSync(path, 'utf8')) as Memo;
    const age = Date.now() - memo.at;
    return age >= 0 && age < UNAVAILABLE_MEMO_MS && typeof memo.reason === 'string' ? memo : undefined;
  } catch {
    return undefined;
  }
}

function writeMemo(path: string, memo: Memo): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(memo));
    for (const name of readdirSync(dirname(path))) {
      const other = join(dirname(path), name);
      if (name.startsWith('no-mongod-') && Date.now() - statSync(other).mtimeMs > UNAVAILABLE_MEMO_MS) rmSync(other, { force: true });
    }
  } catch {
    // A read-only checkout only loses the shortcut: the next run looks again.
  }
}

/** One short sentence: for a download error, the network's own message. */
function describeBinaryFailure(err: unknown): string {
  const download = err as { url?: unknown; msg?: unknown };
  if (typeof download.url === 'string' && typeof download.msg === 'string') {
    return `cannot download mongod: ${firstLine(download.msg)}`;
  }
  return firstLine(err);
}

async function startWire(members: number, reason: string): Promise<StartedBackend> {
  const rs = await ReplicaSet.start({ members });
  return {
    kind: 'wire',
    uri: rs.uri,
    reason: `${reason}; using the rxmongo wire test server (a test double, not MongoDB)`,
    capabilities: ['failCommand', 'topologyControl', 'historyControl', ...(await probeIdleCursors(rs.uri))],
    stop: () => rs.close(),
  };
}

/** Asks a real deployment what it allows. */
async function probeCapabilities(uri: string): Promise<Capability[]> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    return ['failCommand', ...(await probeIdleCursors(uri))];
  } catch {
    return probeIdleCursors(uri);
  } finally {
    await client.close();
  }
}

/** Whether the deployment lists open cursors through `$currentOp` (mongod does; a test double may not yet). */
async function probeIdleCursors(uri: string): Promise<Capability[]> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.db('admin').aggregate([{ $currentOp: { idleCursors: true } }, { $limit: 1 }]).toArray();
    return ['idleCursors'];
  } catch {
    return [];
  } finally {
    await client.close();
  }
}

function firstLine(err: unknown): string {
  const text = String(err instanceof Error ? err.message : err).replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
