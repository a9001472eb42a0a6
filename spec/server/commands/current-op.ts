/**
 * `$currentOp`: the operations and idle cursors of the member it runs on.
 */
import { Long, type Document } from 'bson';
import type { OpenCursor } from '../cursors';
import { CommandError } from '../errors';
import { checkFields, type FieldType } from './args';
import type { CommandContext } from './types';
import { isDocument } from './statements';

const CURRENT_OP_OPTIONS: Record<string, FieldType> = {
  allUsers: 'bool', idleConnections: 'bool', idleCursors: 'bool', idleSessions: 'bool', localOps: 'bool',
  backtrace: 'bool', truncateOps: 'bool', targetAllNodes: 'bool',
};

/**
 * `$currentOp` as this member sees it: every operation running on it (the
 * aggregate itself, a getMore waiting for data, a command held by a fail
 * point), each with its `opid` for `killOp`, and, with `idleCursors: true`,
 * the cursors open on the member that no getMore holds, as mongod lists
 * them (`type: 'idleCursor'`).
 */
export function currentOp(ctx: CommandContext, cmd: Document, spec: unknown): Document[] {
  if (ctx.db !== 'admin' || cmd.aggregate !== 1) {
    throw new CommandError('InvalidNamespace', "$currentOp must be run against the 'admin' database with {aggregate: 1}");
  }
  if (!isDocument(spec)) throw new CommandError('FailedToParse', '$currentOp options must be specified in an object, but found: ' + typeof spec);
  checkFields(spec, '$currentOp', CURRENT_OP_OPTIONS);
  return operations(ctx, spec.idleCursors === true);
}

/** The running operations (and, when asked, the idle cursors) of the member. */
export function operations(ctx: CommandContext, idleCursors: boolean): Document[] {
  const host = ctx.member.address;
  const cursors = ctx.member.cursors.list();
  const ops: Document[] = ctx.member.operations.list().map((op) => {
    const name = Object.keys(op.command)[0];
    const target = op.command[name];
    const ns = name === 'getMore' ? `${op.db}.${String(op.command.collection)}` : typeof target === 'string' ? `${op.db}.${target}` : `${op.db}.$cmd${name === 'aggregate' ? '.aggregate' : ''}`;
    const { $clusterTime: _time, $readPreference: _pref, ...command } = op.command;
    const micros = (Date.now() - op.started.getTime()) * 1000;
    const cursor = name === 'getMore' ? cursors.find((c) => c.id.toString() === String(op.command.getMore)) : undefined;
    return {
      type: 'op',
      host,
      desc: `conn${op.connection.id}`,
      connectionId: op.connection.id,
      client: `${op.connection.socket.remoteAddress}:${op.connection.socket.remotePort}`,
      ...(op.connection.appName ? { appName: op.connection.appName } : {}),
      active: true,
      currentOpTime: new Date().toISOString(),
      opid: op.opid,
      ...(op.command.lsid ? { lsid: op.command.lsid } : {}),
      secs_running: Long.fromNumber(Math.floor(micros / 1_000_000)),
      microsecs_running: Long.fromNumber(micros),
      op: OP_TYPES[name] ?? 'command',
      ns,
      command,
      ...(cursor ? { cursor: describeCursor(cursor) } : {}),
      killPending: op.killed,
      waitingForLock: false,
    };
  });
  if (idleCursors) {
    for (const cursor of cursors.filter((c) => !c.pinned)) {
      ops.push({ type: 'idleCursor', host, ns: cursor.ns, ...(cursor.lsid ? { lsid: cursor.lsid } : {}), cursor: describeCursor(cursor) });
    }
  }
  return ops;
}

/** currentOp's `op` for each command. */
const OP_TYPES: Record<string, string> = { find: 'query', getMore: 'getmore', insert: 'insert', update: 'update', delete: 'remove' };

/** The `cursor` sub-document of a `$currentOp` entry. */
function describeCursor(cursor: OpenCursor): Document {
  const origin = cursor.originatingCommand ?? {};
  const { lsid: _lsid, $clusterTime: _time, $readPreference: _pref, ...originatingCommand } = origin;
  return {
    cursorId: cursor.id,
    createdDate: cursor.createdDate,
    lastAccessDate: cursor.lastAccessDate,
    nDocsReturned: Long.fromNumber(cursor.nDocsReturned),
    nBatchesReturned: Long.fromNumber(cursor.nBatchesReturned),
    noCursorTimeout: origin.noCursorTimeout === true,
    tailable: cursor.changeStream === true || origin.tailable === true,
    awaitData: cursor.changeStream === true || origin.awaitData === true,
    originatingCommand,
  };
}
