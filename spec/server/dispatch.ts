/**
 * From a decoded request to a reply: command lookup, fail points, member
 * role checks, sessions and transactions, error labels, and the cluster time
 * every reply carries.
 */
import { Binary, Long, type Document } from 'bson';
import { COMMANDS } from './commands';
import type { CommandContext, CommandSpec } from './commands/types';
import type { Connection } from './connection';
import { CODES, CommandError, errorReply } from './errors';
import { beginCommand, endCommand } from './sessions';
import type { Request } from './wire';

/** Codes after which a retryable write may be retried (mongod labels them). */
const RETRYABLE_CODES = new Set<number>([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 134,
]);

/** Answers one request; `undefined` means no reply is sent (the connection was closed). */
export async function dispatch(connection: Connection, request: Request): Promise<Document | undefined> {
  const { member } = connection;
  const cmd = request.command;
  const name = Object.keys(cmd)[0];
  const spec = name === undefined ? undefined : COMMANDS.get(name);
  const reply = await run(connection, request, name, spec);
  if (reply === undefined) return undefined;
  if (member.role !== 'arbiter') {
    reply.$clusterTime = clusterTimeDoc(member.rs.store.clusterTime);
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
  if (!spec) return new CommandError('CommandNotFound', `no such command: '${name}'`).toReply();

  const fail = name === 'configureFailPoint' ? undefined : member.failPoints.match(name, connection.appName);
  if (fail?.blockConnection) await sleep(fail.blockTimeMS ?? 0);
  if (fail?.closeConnection) {
    connection.destroy();
    return undefined;
  }
  if (fail?.errorCode !== undefined) {
    return errorReply(fail.errorCode, `Failing command ${name} via 'failCommand' failpoint`, fail.errorLabels);
  }

  const ctx: CommandContext = {
    rs: member.rs,
    member,
    store: member.rs.store,
    connection,
    request,
    db: request.db,
    view: member.rs.store,
  };
  let retryable = false;
  try {
    checkRole(ctx, spec, cmd);
    if (spec.adminOnly && ctx.db !== 'admin') {
      throw new CommandError('Unauthorized', `${name} may only be run against the admin database.`);
    }
    const begun = beginCommand(ctx, spec, cmd);
    retryable = begun.retryableWrite;
    if (begun.cachedReply) return { ...begun.cachedReply };
    const reply: Document = { ok: 1, ...(await spec.run(ctx, cmd)) };
    endCommand(ctx, spec, cmd, reply);
    if (fail?.writeConcernError) reply.writeConcernError = fail.writeConcernError;
    else if (fail?.errorLabels && reply.ok === 1) reply.errorLabels = fail.errorLabels;
    return reply;
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    const reply = err.toReply();
    const labels = new Set<string>((reply.errorLabels as string[] | undefined) ?? []);
    if (retryable && RETRYABLE_CODES.has(err.code)) labels.add('RetryableWriteError');
    if (ctx.transaction) {
      ctx.transaction.failed(err, labels);
    }
    if (labels.size > 0) reply.errorLabels = [...labels];
    return reply;
  }
}

function checkRole(ctx: CommandContext, spec: CommandSpec, cmd: Document): void {
  const role = ctx.member.role;
  if (spec.anyRole) return;
  if (role === 'arbiter') {
    throw new CommandError('NotPrimaryNoSecondaryOk', 'node is an arbiter and holds no data');
  }
  if (role === 'secondary' && spec.write) {
    throw new CommandError('NotWritablePrimary', 'not primary');
  }
  if (role === 'secondary' && spec.read && !secondaryOk(ctx.request.opCode, cmd)) {
    throw new CommandError('NotPrimaryNoSecondaryOk', 'not primary and secondaryOk=false');
  }
}

function secondaryOk(opCode: number, cmd: Document): boolean {
  const mode = (cmd.$readPreference as Document | undefined)?.mode;
  // OP_MSG without $readPreference means primary; a legacy OP_QUERY relies on its flags.
  return mode !== undefined ? mode !== 'primary' : opCode !== 2013;
}

export function clusterTimeDoc(clusterTime: unknown): Document {
  return { clusterTime, signature: { hash: new Binary(Buffer.alloc(20)), keyId: Long.ZERO } };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
