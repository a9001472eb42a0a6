/**
 * From a decoded request to a reply: command lookup, fail points, member
 * role checks, sessions and transactions, error labels, and the cluster time
 * every reply carries. The dispatcher knows no command by name: what sets
 * one apart is a property of its row in the command table (commands/types.ts).
 */
import { Long, type Document } from 'bson';
import { authorize } from './auth/authorize';
import { COMMANDS } from './commands';
import { secondaryRule, type CommandContext, type CommandSpec } from './commands/types';
import { beginCommand, endCommand } from './command-session';
import type { Connection } from './connection';
import type { Member } from './member';
import { CODES, CommandError, errorReply } from './errors';
import { blockTime } from './fail-points';
import { StatementView, type Transaction } from './sessions';
import { beginSnapshotRead, endSnapshotRead } from './snapshot-reads';
import { awaitWriteConcern } from './write-concern';
import type { RunningOperation } from './operations';
import { OP_MSG, OP_QUERY, type Request } from './wire';

/** mongod's RetriableError category: after these a retryable write or read may be tried again. */
const RETRIABLE_CODES = new Set<number>([6, 7, 89, 91, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);
/** Network errors and stale routing, which a change stream may also resume after. */
const RESUMABLE_CHANGE_STREAM_CODES = new Set<number>([...RETRIABLE_CODES, 133, 150, 234, 13388]);
/** Errors a transaction statement may be retried after by retrying the whole transaction. */
const TRANSIENT_TRANSACTION_CODES = new Set<number>([CODES.WriteConflict, CODES.LockTimeout]);

/** Answers one request; `undefined` means no reply is sent (the connection was closed). */
export async function dispatch(connection: Connection, request: Request): Promise<Document | undefined> {
  const { member } = connection;
  const cmd = request.command;
  const name = Object.keys(cmd)[0];
  const spec = name === undefined ? undefined : COMMANDS.get(name);
  const reply = await run(connection, request, name, spec);
  if (reply === undefined) return undefined;
  if (member.role !== 'arbiter') {
    reply.$clusterTime = member.rs.clusterKeys.sign(member.rs.store.clusterTime);
    if (reply.operationTime === undefined) reply.operationTime = member.rs.store.clusterTime;
  }
  return reply;
}

async function run(
  connection: Connection,
  request: Request,
  name: string | undefined,
  spec: CommandSpec | undefined,
): Promise<Document | undefined> {
  const { member } = connection;
  const cmd = request.command;
  if (name === undefined) return errorReply(CODES.FailedToParse, 'Command document is empty');
  // Since MongoDB 6.0 only the handshake may come as OP_QUERY.
  if (request.opCode === OP_QUERY && !spec?.opQuery) {
    return new CommandError(
      'UnsupportedOpQueryCommand',
      `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`,
    ).toReply();
  }
  if (!spec) return new CommandError('CommandNotFound', `no such command: '${name}'`).toReply();

  const operation = member.operations.start(connection, request.db, cmd);
  try {
    return await runCommand(connection, request, name, spec, operation);
  } finally {
    member.operations.end(operation);
  }
}

async function runCommand(
  connection: Connection,
  request: Request,
  name: string,
  spec: CommandSpec,
  operation: RunningOperation,
): Promise<Document | undefined> {
  const { member } = connection;
  const cmd = request.command;
  const names = { name: spec.name, names: [spec.name, ...(spec.aliases ?? [])] };
  const ns = `${request.db}.${typeof cmd[name] === 'string' ? cmd[name] : '$cmd'}`;
  // Known before the command runs: a getMore that fails takes its cursor with it.
  const changeStreamCursor = spec.continuesCursor === true && isChangeStreamCursor(member, cmd);
  for (let attempt = 0; ; attempt++) {
    const ctx: CommandContext = {
      rs: member.rs,
      member,
      store: member.rs.store,
      connection,
      request,
      db: request.db,
      view: new StatementView(member.rs.store, member.rs.sessions),
      operation,
    };
    let reply: Document;
    try {
      checkRole(ctx, spec, cmd);
      member.rs.clusterKeys.validate(cmd.$clusterTime, member.rs.store.clusterTime);
      authorize(ctx, spec, cmd);
      if (spec.adminOnly && ctx.db !== 'admin') {
        throw new CommandError('Unauthorized', `${name} may only be run against the admin database.`);
      }
      const begun = beginCommand(ctx, spec, cmd);
      ctx.retryableWrite = begun.retryableWrite;
      const snapshotTime = beginSnapshotRead(ctx, spec, cmd);
      // As in mongod, the fail point acts once the session is checked out, before the command runs.
      const fail = attempt === 0 ? member.failPoints.match(names, connection.appName, ns) : undefined;
      if (fail?.blockConnection) await sleep(blockTime(fail));
      if (fail?.closeConnection) {
        connection.destroy();
        return undefined;
      }
      if (fail?.errorCode !== undefined) {
        // mongod fails the command before it touches the transaction, which goes on.
        const injected = errorReply(fail.errorCode, "Failing command via 'failCommand' failpoint");
        return failedReply(ctx, spec, cmd, injected, { labels: fail.errorLabels, keepTransaction: true, changeStreamCursor });
      }
      if (begun.cachedReply) return { ...begun.cachedReply };
      reply = { ok: 1, ...(await spec.run(ctx, cmd)) };
      if (snapshotTime) endSnapshotRead(reply, snapshotTime);
    } catch (err) {
      // Anything but a CommandError is a bug of the test server: mongod's InternalError, with the cause.
      reply = err instanceof CommandError
        ? err.toReply()
        : errorReply(CODES.InternalError, `the wire test server failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
    const blockedBy = ctx.view instanceof StatementView && ctx.view.writes === 0 ? ctx.view.blockedBy : undefined;
    if (blockedBy) {
      // A write outside a transaction met a document an open transaction holds: wait, then run again.
      const waited = await waitFor(blockedBy, cmd.maxTimeMS);
      if (!connection.isClosed && waited) continue;
      if (!waited) reply = new CommandError('MaxTimeMSExpired', 'operation exceeded time limit').toReply();
    }
    if (reply.ok !== 1) return failedReply(ctx, spec, cmd, reply, { changeStreamCursor });
    if (spec.write || spec.endsTransaction === 'commit') {
      const wce = await awaitWriteConcern(member.rs, connection, cmd.writeConcern);
      if (wce) reply.writeConcernError = wce;
    }
    endCommand(ctx, spec, cmd, reply);
    // A fail point dropped the connection after the write was applied: the client sees a network error.
    if (connection.isClosed) return undefined;
    const wce = member.failPoints.writeConcernError(names, connection.appName, ns);
    if (wce?.writeConcernError) {
      reply.writeConcernError = { ...wce.writeConcernError };
      delete reply.writeConcernError.errorLabels;
      const labels =
        wce.errorLabels ??
        (wce.writeConcernError.errorLabels as string[] | undefined) ??
        errorLabels(spec, cmd, undefined, Number(wce.writeConcernError.code));
      if (labels.length > 0) reply.errorLabels = labels;
    }
    return reply;
  }
}

/**
 * Finishes an error reply: the labels mongod would add (or the fail point's,
 * which replace them), and the abort of the transaction the statement was in.
 */
function failedReply(
  ctx: CommandContext,
  spec: CommandSpec,
  cmd: Document,
  reply: Document,
  how: { labels?: string[]; keepTransaction?: boolean; changeStreamCursor: boolean },
): Document {
  const override = how.labels;
  const labels = override ?? [
    ...new Set([...((reply.errorLabels as string[] | undefined) ?? []), ...errorLabels(spec, cmd, reply.code)]),
  ];
  delete reply.errorLabels;
  if (labels.length > 0) reply.errorLabels = labels;
  if (ctx.transaction && !spec.endsTransaction && !how.keepTransaction) ctx.transaction.abort();
  if (override || reply.code === CODES.CursorNotFound || !how.changeStreamCursor) return reply;
  if (RESUMABLE_CHANGE_STREAM_CODES.has(Number(reply.code))) reply.errorLabels = [...labels, 'ResumableChangeStreamError'];
  return reply;
}

/** The labels mongod's ErrorLabelBuilder gives an error (`code`) or a writeConcernError (`wceCode`). */
function errorLabels(spec: CommandSpec, cmd: Document, code: unknown, wceCode?: number): string[] {
  const labels: string[] = [];
  const hasTxnNumber = cmd.txnNumber !== undefined;
  const inTransaction = cmd.autocommit !== undefined;
  const commitOrAbort = spec.endsTransaction !== undefined;
  const errorCode = typeof code === 'number' ? code : undefined;
  if (inTransaction && errorCode !== undefined) {
    let transient = TRANSIENT_TRANSACTION_CODES.has(errorCode);
    if (commitOrAbort) transient ||= errorCode === CODES.NoSuchTransaction && wceCode === undefined;
    else transient ||= RETRIABLE_CODES.has(errorCode) || errorCode === CODES.NoSuchTransaction;
    if (transient) labels.push('TransientTransactionError');
  }
  const retryableWrite = hasTxnNumber && (!inTransaction || commitOrAbort);
  const retriable = (errorCode !== undefined && RETRIABLE_CODES.has(errorCode)) ||
    (wceCode !== undefined && RETRIABLE_CODES.has(wceCode));
  if (retryableWrite && retriable) labels.push('RetryableWriteError');
  return labels;
}

function isChangeStreamCursor(member: Member, cmd: Document): boolean {
  const id = cmd[Object.keys(cmd)[0]];
  return (Long.isLong(id) || typeof id === 'number' || typeof id === 'bigint') && member.cursors.isChangeStream(id);
}

function checkRole(ctx: CommandContext, spec: CommandSpec, cmd: Document): void {
  const role = ctx.member.role;
  if (spec.anyRole) return;
  if (role === 'arbiter') {
    throw new CommandError('NotPrimaryNoSecondaryOk', 'node is an arbiter and holds no data');
  }
  const rule = secondaryRule(spec);
  if (role === 'secondary' && rule === 'primary') {
    throw new CommandError('NotWritablePrimary', 'not primary');
  }
  if (role === 'secondary' && rule === 'secondaryOk' && !secondaryOk(ctx.request.opCode, cmd)) {
    throw new CommandError('NotPrimaryNoSecondaryOk', 'not primary and secondaryOk=false');
  }
}

function secondaryOk(opCode: number, cmd: Document): boolean {
  const mode = (cmd.$readPreference as Document | undefined)?.mode;
  // OP_MSG without $readPreference means primary; a legacy OP_QUERY relies on its flags.
  return mode !== undefined ? mode !== 'primary' : opCode !== OP_MSG;
}

/** Resolves true when `txn` ends, false if `maxTimeMS` passes first. */
function waitFor(txn: Transaction, maxTimeMS: unknown): Promise<boolean> {
  const ms = Number(maxTimeMS);
  if (!(ms > 0)) return txn.finished.then(() => true);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([txn.finished.then(() => true), expired]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
