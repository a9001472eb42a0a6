/**
 * Server, replication, session and cursor administration commands.
 */
import { Long, type Document } from 'bson';
import { CommandError } from '../errors';
import { lsidKey } from '../sessions';
import { select } from '../query';
import { VERSION, VERSION_ARRAY } from '../version';
import { toNumber } from './args';
import { operations } from './current-op';
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
  // mongod keeps a stepped-down primary from being elected again for the seconds it was given.
  ctx.member.frozenUntil = Date.now() + seconds * 1000;
  return {};
}

/** `replSetFreeze`: a secondary will not stand for election for the seconds given (0 ends it). */
function replSetFreeze(ctx: CommandContext, cmd: Document): Document {
  if (ctx.rs.mongos) throw new CommandError('CommandNotFound', "no such command: 'replSetFreeze'");
  const seconds = toNumber(cmd.replSetFreeze);
  if (seconds === undefined || !Number.isFinite(seconds)) {
    throw new CommandError('TypeMismatch', `replSetFreeze takes a number of seconds, not ${JSON.stringify(cmd.replSetFreeze)}`);
  }
  if (ctx.member.role === 'primary') {
    throw new CommandError('NotSecondary', 'cannot freeze node when primary or running for election. state: Primary');
  }
  if (seconds <= 0) {
    ctx.member.frozenUntil = 0;
    return { info: 'unfreezing' };
  }
  ctx.member.frozenUntil = Date.now() + seconds * 1000;
  return seconds === 1 ? { warning: 'you really want to freeze for only 1 second?' } : {};
}

/** Fields of `currentOp` that are not part of its filter. */
const CURRENT_OP_ARGUMENTS = new Set([
  'currentOp', '$all', '$ownOps', '$db', '$clusterTime', '$readPreference', 'lsid', 'txnNumber', 'comment', 'maxTimeMS',
  'readConcern', 'apiVersion', 'apiStrict', 'apiDeprecationErrors',
]);

/** The `currentOp` command: the member's operations that match the command's other fields as a filter. */
function currentOpCommand(ctx: CommandContext, cmd: Document): Document {
  const filter = Object.fromEntries(Object.entries(cmd).filter(([k]) => !CURRENT_OP_ARGUMENTS.has(k)));
  return { inprog: select(operations(ctx, false), filter) };
}

/** `killOp`: interrupts the operation with that opid (mongod answers the same whether or not it exists). */
function killOp(ctx: CommandContext, cmd: Document): Document {
  const opid = toNumber(cmd.op);
  if (opid === undefined || !Number.isInteger(opid)) {
    throw new CommandError('TypeMismatch', `killOp needs an integer 'op', not ${JSON.stringify(cmd.op)}`);
  }
  ctx.member.operations.get(opid)?.kill();
  return { info: 'attempting to kill op' };
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
  }, ctx.operation.signal);
}

export const ADMIN_COMMANDS: CommandSpec[] = [
  { name: 'ping', auth: 'none', anyRole: true, run: () => ({}) },
  { name: 'buildInfo', auth: 'none', aliases: ['buildinfo'], anyRole: true, run: buildInfo },
  { name: 'serverStatus', anyRole: true, run: serverStatus },
  { name: 'endSessions', auth: 'authenticated', anyRole: true, run: endSessions },
  { name: 'killSessions', auth: 'authenticated', anyRole: true, run: endSessions },
  { name: 'killAllSessions', anyRole: true, run: (ctx) => {
    ctx.rs.sessions.abortAll();
    for (const m of ctx.rs.members) m.cursors.closeAll();
    return {};
  } },
  { name: 'configureFailPoint', adminOnly: true, anyRole: true, run: (ctx, cmd) => ctx.member.failPoints.configure(cmd) },
  { name: 'replSetStepDown', adminOnly: true, run: replSetStepDown },
  { name: 'replSetGetStatus', adminOnly: true, anyRole: true, run: replSetGetStatus },
  { name: 'getParameter', adminOnly: true, anyRole: true, run: (ctx, cmd) => ctx.member.parameters.get(cmd) },
  { name: 'setParameter', adminOnly: true, anyRole: true, run: (ctx, cmd) => ctx.member.parameters.set(cmd) },
  { name: 'currentOp', adminOnly: true, anyRole: true, run: currentOpCommand },
  { name: 'killOp', adminOnly: true, anyRole: true, run: killOp },
  { name: 'replSetFreeze', adminOnly: true, run: replSetFreeze },
  { name: 'refreshLogicalSessionCacheNow', auth: 'authenticated', anyRole: true, run: (ctx) => {
    ctx.rs.sessions.refresh();
    return {};
  } },
  { name: 'whatsmyuri', auth: 'none', anyRole: true, run: (ctx) => ({ you: `${ctx.connection.socket.remoteAddress}:${ctx.connection.socket.remotePort}` }) },
  { name: 'getMore', read: true, secondary: 'any', continuesCursor: true, inTransaction: true, run: getMore },
  { name: 'killCursors', auth: 'authenticated', secondary: 'any', inTransaction: true, run: (ctx, cmd) => ctx.member.cursors.killCursors(cmd, ctx.db) },
  { name: 'commitTransaction', auth: 'authenticated', adminOnly: true, inTransaction: true, endsTransaction: 'commit', retryable: true, run: (ctx) => transactionCommand(ctx, true) },
  { name: 'abortTransaction', auth: 'authenticated', adminOnly: true, inTransaction: true, endsTransaction: 'abort', retryable: true, run: (ctx) => transactionCommand(ctx, false) },
];
