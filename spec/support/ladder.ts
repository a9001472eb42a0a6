/**
 * The server ladder (DESIGN.md §4): `MONGODB_URI` → mongodb-memory-server's
 * `MongoMemoryReplSet` → the in-process wire test server. Shared by the spec
 * run, the demos and the benchmark so they all pick a server the same way.
 */
import { MongoClient } from 'mongodb';
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
  const { MongoMemoryReplSet } = await import('mongodb-memory-server');
  const replSet = await MongoMemoryReplSet.create({
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
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
