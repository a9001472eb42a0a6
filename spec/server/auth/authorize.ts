/**
 * The dispatcher's authorization check when authentication is on: what a
 * command needs (from its row in the command table) against the roles of
 * the connection's user, with mongod's localhost exception (the first user
 * may be created from localhost before any exists).
 */
import type { Document } from 'bson';
import type { CommandContext, CommandSpec } from '../commands/types';
import { CommandError } from '../errors';
import { allowed, type Need } from './users';

function needs(spec: CommandSpec, db: string, cmd: Document): Need[] {
  switch (spec.auth) {
    case 'none':
      return [{ kind: 'none' }];
    case 'authenticated':
      return [{ kind: 'authenticated' }];
    case 'userAdmin':
      return [{ kind: 'userAdmin', db }];
    case 'cluster':
      return [{ kind: 'cluster' }];
  }
  // The admin bulkWrite writes to the databases its nsInfo names.
  if (Array.isArray(cmd.nsInfo)) {
    return (cmd.nsInfo as Document[]).map((entry) => ({ kind: 'write', db: String(entry.ns).split('.')[0] }));
  }
  if (spec.write) return [{ kind: 'write', db }];
  if (spec.read) return [{ kind: 'read', db }];
  return [{ kind: 'cluster' }];
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** Throws Unauthorized (13) when the connection's user may not run the command. */
export function authorize(ctx: CommandContext, spec: CommandSpec, cmd: Document): void {
  const { rs, connection } = ctx;
  if (!rs.auth) return;
  const required = needs(spec, ctx.db, cmd);
  if (required.every((n) => n.kind === 'none')) return;
  const name = connection.user;
  const at = name?.lastIndexOf('@') ?? -1;
  const user = name ? rs.users.find(name.slice(0, at), name.slice(at + 1)) : undefined;
  if (!user) {
    const firstUser = spec.auth === 'userAdmin' && rs.users.size === 0 && ctx.db === 'admin' && isLoopback(connection.socket.remoteAddress);
    if (firstUser) return;
    throw new CommandError('Unauthorized', `Command ${spec.name} requires authentication`);
  }
  if (!required.every((n) => allowed(user, n))) {
    const first = Object.keys(cmd)[0];
    throw new CommandError('Unauthorized', `not authorized on ${ctx.db} to execute command { ${first}: ${JSON.stringify(cmd[first])} }`);
  }
}
