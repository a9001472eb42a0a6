/**
 * `$currentOp`: the operations and idle cursors of the member it runs on.
 */
import { Long, type Document } from 'bson';
import type { OpenCursor } from '../cursors';
import { CommandError } from '../errors';
import { checkFields, type FieldType } from './args';
import type { CommandContext } from './types';
import { isDocument } from './statements';

export const CURRENT_OP_OPTIONS: Record<string, FieldType> = {
  allUsers: 'bool', idleConnections: 'bool', idleCursors: 'bool', idleSessions: 'bool', localOps: 'bool',
  backtrace: 'bool', truncateOps: 'bool', targetAllNodes: 'bool',
};

/**
 * `$currentOp` as this member sees it: the aggregate itself, each getMore
 * running on a cursor (an awaitData getMore waiting for data included), and,
 * with `idleCursors: true`, the cursors open on the member that no getMore
 * holds, as mongod lists them (`type: 'idleCursor'`).
 */
export function currentOp(ctx: CommandContext, cmd: Document, spec: unknown): Document[] {
  if (ctx.db !== 'admin' || cmd.aggregate !== 1) {
    throw new CommandError('InvalidNamespace', "$currentOp must be run against the 'admin' database with {aggregate: 1}");
  }
  if (!isDocument(spec)) throw new CommandError('FailedToParse', '$currentOp options must be specified in an object, but found: ' + typeof spec);
  checkFields(spec, '$currentOp', CURRENT_OP_OPTIONS);
  const host = ctx.member.address;
  const { lsid, $db, $clusterTime, $readPreference, ...command } = cmd;
  const ops: Document[] = [{
    type: 'op',
    host,
    desc: `conn${ctx.connection.id}`,
    connectionId: ctx.connection.id,
    ...(ctx.connection.appName ? { appName: ctx.connection.appName } : {}),
    active: true,
    currentOpTime: new Date().toISOString(),
    op: 'command',
    ns: 'admin.$cmd.aggregate',
    command: { ...command, $db },
    ...(lsid ? { lsid } : {}),
  }];
  for (const cursor of ctx.member.cursors.list()) {
    const described = {
      host,
      ns: cursor.ns,
      ...(cursor.lsid ? { lsid: cursor.lsid } : {}),
      cursor: describeCursor(cursor),
    };
    if (cursor.pinned) ops.push({ type: 'op', active: true, op: 'getmore', ...described });
    else if (spec.idleCursors === true) ops.push({ type: 'idleCursor', ...described });
  }
  return ops;
}

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
