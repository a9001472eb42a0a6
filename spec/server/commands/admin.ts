/**
 * Server, replication, session and cursor administration commands.
 */
import { Long, type Document } from 'bson';
import { CommandError } from '../errors';
import { lsidKey } from '../sessions';
import { FEATURE_COMPATIBILITY_VERSION, VERSION, VERSION_ARRAY } from '../version';
import type { CommandContext, CommandSpec } from './types';

const started = Date.now();

const STATE = { primary: 1, secondary: 2, arbiter: 7, mongos: 1 } as const;

function buildInfo(): Document {
  return {
    version: VERSION,
    versionArray: VERSION_ARRAY,
    gitVersion: 'rxmongo-wire-test-server',
    bits: 64,
    debug: false,
    maxBsonObjectSize: 16 * 1024 * 1024,
    javascriptEngine: 'none',
    storageEngines: ['memory'],
    modules: [],
    rxmongoWireTestServer: true,
  };
}

function serverStatus(ctx: CommandContext): Document {
  const { member, rs } = ctx;
  const uptimeMillis = Date.now() - started;
  return {
    host: member.address,
    version: VERSION,
    process: member.role === 'mongos' ? 'mongos' : 'mongod',
    pid: Long.fromNumber(process.pid),
    uptime: Math.floor(uptimeMillis / 1000),
    uptimeMillis: Long.fromNumber(uptimeMillis),
    localTime: new Date(),
    connections: { current: member.connections.size, available: 100_000 },
    metrics: { cursor: { open: { total: Long.fromNumber(member.cursors.size) } } },
    logicalSessionRecordCache: { activeSessionsCount: rs.sessions.size },
    repl: member.role === 'mongos' ? undefined : { ...rs.describe(), me: member.address },
    rxmongoWireTestServer: true,
  };
}

function endSessions(ctx: CommandContext, cmd: Document): Document {
  const name = Object.keys(cmd)[0];
  const ids = cmd[name];
  if (!Array.isArray(ids)) throw new CommandError('TypeMismatch', `BSON field '${name}.${name}' is the wrong type, expected type 'array'`);
  for (const lsid of ids as Document[]) {
    if (!lsid || typeof lsid !== 'object') continue;
    ctx.rs.sessions.end(lsid);
    for (const m of ctx.rs.members) m.cursors.killSession(lsidKey, lsidKey(lsid));
  }
  return {};
}

function replSetStepDown(ctx: CommandContext, cmd: Document): Document {
  if (ctx.rs.mongos) throw new CommandError('CommandNotFound', "no such command: 'replSetStepDown'");
  if (ctx.member.role !== 'primary') throw new CommandError('NotWritablePrimary', 'not primary so can\'t step down');
  const seconds = cmd.replSetStepDown;
  if (typeof seconds !== 'number' || seconds <= 0) {
    throw new CommandError('BadValue', `Invalid replSetStepDown value: ${String(seconds)}; it must be a number of seconds > 0`);
  }
  if (ctx.rs.electable.length === 0 && cmd.force !== true) {
    throw new CommandError('ExceededTimeLimit', 'No electable secondaries caught up as of now. Please use the replSetGetStatus command to view replication lag.');
  }
  ctx.rs.stepDown();
  return {};
}

/**
 * `replSetGetStatus` with mongod's optimes: every member has applied the
 * newest oplog entry (the members share one store), so applied, durable and
 * majority-committed optimes are all that entry's.
 */
function replSetGetStatus(ctx: CommandContext): Document {
  const { rs, member } = ctx;
  if (rs.mongos) throw new CommandError('CommandNotFound', "no such command: 'replSetGetStatus'");
  const oplog = rs.store.oplog;
  const last = oplog[oplog.length - 1];
  const opTime = { ts: last.clusterTime, t: Long.ONE };
  const wall = last.wallTime;
  return {
    set: rs.setName,
    date: new Date(),
    myState: STATE[member.role],
    term: Long.ONE,
    optimes: {
      lastCommittedOpTime: opTime,
      lastCommittedWallTime: wall,
      readConcernMajorityOpTime: opTime,
      readConcernMajorityWallTime: wall,
      appliedOpTime: opTime,
      durableOpTime: opTime,
      lastAppliedWallTime: wall,
      lastDurableWallTime: wall,
    },
    members: rs.members.map((m, i) => ({
      _id: i,
      name: m.address,
      health: m.responding ? 1 : 0,
      state: m.responding ? STATE[m.role] : 8,
      stateStr: m.responding ? m.role.toUpperCase() : '(not reachable/healthy)',
      ...(m.role === 'arbiter' ? {} : { optime: opTime, optimeDate: wall, optimeDurable: opTime, optimeDurableDate: wall }),
      self: m === member,
    })),
  };
}

function transactionCommand(ctx: CommandContext, commit: boolean): Document {
  const txn = ctx.transaction;
  if (!txn) throw new CommandError('InvalidOptions', `${commit ? 'commit' : 'abort'}Transaction needs lsid, txnNumber and autocommit: false`);
  if (commit) txn.commit();
  else if (txn.state === 'aborted') throw new CommandError('NoSuchTransaction', `Transaction with { txnNumber: ${txn.txnNumber} } has been aborted.`);
  else txn.abort();
  return {};
}

/** getMore, which `failGetMoreAfterCursorCheckout` fails once the cursor is checked out. */
function getMore(ctx: CommandContext, cmd: Document): Promise<Document> {
  return ctx.member.cursors.getMore(cmd, ctx.db, ctx.connection, (ns) => {
    const code = ctx.member.failPoints.getMoreAfterCheckout(ctx.connection.appName, ns);
    if (code !== undefined) throw CommandError.withCode(code, "Hit the 'failGetMoreAfterCursorCheckout' failpoint");
  });
}

export const ADMIN_COMMANDS: CommandSpec[] = [
  { name: 'ping', anyRole: true, run: () => ({}) },
  { name: 'buildInfo', aliases: ['buildinfo'], anyRole: true, run: buildInfo },
  { name: 'serverStatus', anyRole: true, run: serverStatus },
  { name: 'endSessions', anyRole: true, run: endSessions },
  { name: 'killSessions', anyRole: true, run: endSessions },
  { name: 'killAllSessions', anyRole: true, run: (ctx) => {
    ctx.rs.sessions.abortAll();
    for (const m of ctx.rs.members) m.cursors.closeAll();
    return {};
  } },
  { name: 'configureFailPoint', adminOnly: true, anyRole: true, run: (ctx, cmd) => ctx.member.failPoints.configure(cmd) },
  { name: 'replSetStepDown', adminOnly: true, run: replSetStepDown },
  { name: 'replSetGetStatus', adminOnly: true, anyRole: true, run: replSetGetStatus },
  { name: 'getParameter', adminOnly: true, anyRole: true, run: (_ctx, cmd) => (cmd.featureCompatibilityVersion ? { featureCompatibilityVersion: { version: FEATURE_COMPATIBILITY_VERSION } } : {}) },
  { name: 'whatsmyuri', anyRole: true, run: (ctx) => ({ you: `${ctx.connection.socket.remoteAddress}:${ctx.connection.socket.remotePort}` }) },
  { name: 'getMore', read: true, secondary: 'any', continuesCursor: true, inTransaction: true, run: getMore },
  { name: 'killCursors', secondary: 'any', inTransaction: true, run: (ctx, cmd) => ctx.member.cursors.killCursors(cmd, ctx.db) },
  { name: 'commitTransaction', adminOnly: true, inTransaction: true, endsTransaction: 'commit', retryable: true, run: (ctx) => transactionCommand(ctx, true) },
  { name: 'abortTransaction', adminOnly: true, inTransaction: true, endsTransaction: 'abort', retryable: true, run: (ctx) => transactionCommand(ctx, false) },
];
