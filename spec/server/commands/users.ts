/**
 * User management (`createUser`, `dropUser`, `usersInfo`) and
 * authentication (`saslStart`/`saslContinue` with SCRAM-SHA-256 or
 * SCRAM-SHA-1, `connectionStatus`).
 */
import { Binary, type Document } from 'bson';
import { MECHANISMS, ScramConversation, ScramError, type Mechanism } from '../auth/scram';
import { allowed, userInfo } from '../auth/users';
import { CommandError } from '../errors';
import { checkDatabase, checkFields, wrongType } from './args';
import type { CommandContext, CommandSpec } from './types';

function createUser(ctx: CommandContext, cmd: Document): Document {
  checkDatabase(ctx.db);
  checkFields(cmd, 'createUser', {
    pwd: 'string', roles: 'array', customData: 'object', mechanisms: 'array', digestPassword: 'bool',
    authenticationRestrictions: 'array',
  }, { command: true, required: ['roles'] });
  const user = cmd.createUser;
  if (typeof user !== 'string' || user === '') throw new CommandError('BadValue', 'User document needs \'user\' field to be a non-empty string');
  if (ctx.db === '$external') throw new CommandError('CommandNotSupported', 'the wire test server has no external authentication');
  if (typeof cmd.pwd !== 'string' || cmd.pwd === '') throw new CommandError('BadValue', 'Must provide a \'pwd\' field for all user documents, except those with \'$external\' as the user\'s source db');
  const mechanisms = (cmd.mechanisms ?? [...MECHANISMS]) as unknown[];
  for (const m of mechanisms) {
    if (!MECHANISMS.includes(m as Mechanism)) throw new CommandError('BadValue', `Unknown auth mechanism '${String(m)}'`);
  }
  if (mechanisms.length === 0) throw new CommandError('BadValue', 'mechanisms field must not be empty');
  if (cmd.digestPassword === false) throw new CommandError('BadValue', 'Use of SCRAM-SHA-256 requires undigested passwords');
  ctx.rs.users.create(user, ctx.db, cmd.pwd, cmd.roles as unknown[], mechanisms as Mechanism[], cmd.customData as Document | undefined);
  return {};
}

function dropUser(ctx: CommandContext, cmd: Document): Document {
  checkFields(cmd, 'dropUser', {}, { command: true });
  if (typeof cmd.dropUser !== 'string') throw wrongType('dropUser.dropUser', 'string', cmd.dropUser);
  ctx.rs.users.drop(cmd.dropUser, ctx.db);
  return {};
}

/** `usersInfo`: 1 (the database's users), a name, `{ user, db }`, a list of those, or `{ forAllDBs: true }`. */
function usersInfo(ctx: CommandContext, cmd: Document): Document {
  checkFields(cmd, 'usersInfo', { showCredentials: 'bool', showCustomData: 'bool', showPrivileges: 'bool', showAuthenticationRestrictions: 'bool', filter: 'object' }, { command: true });
  const spec = cmd.usersInfo;
  const all = ctx.rs.users.list();
  let users = all;
  if (spec === 1 || spec === true) {
    users = all.filter((u) => u.db === ctx.db);
  } else if (spec !== null && typeof spec === 'object' && !Array.isArray(spec) && (spec as Document).forAllDBs === true) {
    users = all;
  } else {
    const wanted = (Array.isArray(spec) ? spec : [spec]).map((item) => {
      if (typeof item === 'string') return `${item}@${ctx.db}`;
      if (item && typeof item === 'object' && typeof (item as Document).user === 'string') return `${(item as Document).user}@${String((item as Document).db ?? ctx.db)}`;
      throw new CommandError('BadValue', 'User name must be either a string or an object of the form {user: <name>, db: <db>}');
    });
    users = all.filter((u) => wanted.includes(`${u.user}@${u.db}`));
  }
  // Users other than oneself need userAdmin on their database.
  if (ctx.rs.auth) {
    const me = ctx.connection.user;
    const self = me ? ctx.rs.users.find(me.slice(0, me.lastIndexOf('@')), me.slice(me.lastIndexOf('@') + 1)) : undefined;
    for (const u of users) {
      if (`${u.user}@${u.db}` !== me && !allowed(self, { kind: 'userAdmin', db: u.db })) {
        throw new CommandError('Unauthorized', `not authorized on ${ctx.db} to execute command { usersInfo: ${JSON.stringify(spec)} }`);
      }
    }
  }
  return { users: users.map((u) => userInfo(u, cmd.showCredentials === true)) };
}

function payloadText(payload: unknown): string {
  if (payload instanceof Binary) return Buffer.from(payload.buffer.subarray(0, payload.position)).toString('utf8');
  if (typeof payload === 'string') return Buffer.from(payload, 'base64').toString('utf8');
  throw new CommandError('BadValue', 'SASL payload must be binary data');
}

function authenticationFailed(): CommandError {
  return new CommandError('AuthenticationFailed', 'Authentication failed.');
}

function saslStart(ctx: CommandContext, cmd: Document): Document {
  const mechanism = cmd.mechanism;
  if (!MECHANISMS.includes(mechanism as Mechanism)) {
    throw new CommandError('MechanismUnavailable', `Received authentication for mechanism ${String(mechanism)} which is not enabled`);
  }
  const conversation = new ScramConversation(mechanism as Mechanism);
  let name: string;
  try {
    name = conversation.start(payloadText(cmd.payload));
  } catch (err) {
    if (err instanceof ScramError) throw authenticationFailed();
    throw err;
  }
  const record = ctx.rs.users.find(name, ctx.db);
  const credential = record?.credentials[mechanism as Mechanism];
  if (!record || !credential) throw authenticationFailed();
  ctx.connection.sasl = { conversation, user: record.user, db: record.db };
  return { conversationId: 1, done: false, payload: new Binary(Buffer.from(conversation.challenge(credential))) };
}

function saslContinue(ctx: CommandContext, cmd: Document): Document {
  const sasl = ctx.connection.sasl;
  if (!sasl || Number(cmd.conversationId) !== 1) throw new CommandError('ProtocolError', 'No SASL session state found');
  ctx.connection.sasl = undefined;
  let serverFinal: string;
  try {
    serverFinal = sasl.conversation.finish(payloadText(cmd.payload));
  } catch (err) {
    if (err instanceof ScramError) throw authenticationFailed();
    throw err;
  }
  ctx.connection.user = `${sasl.user}@${sasl.db}`;
  return { conversationId: 1, done: true, payload: new Binary(Buffer.from(serverFinal)) };
}

function connectionStatus(ctx: CommandContext): Document {
  const name = ctx.connection.user;
  const at = name?.lastIndexOf('@') ?? -1;
  const record = name ? ctx.rs.users.find(name.slice(0, at), name.slice(at + 1)) : undefined;
  return {
    authInfo: {
      authenticatedUsers: record ? [{ user: record.user, db: record.db }] : [],
      authenticatedUserRoles: record?.roles ?? [],
    },
  };
}

export const USER_COMMANDS: CommandSpec[] = [
  { name: 'createUser', auth: 'userAdmin', run: createUser },
  { name: 'dropUser', auth: 'userAdmin', run: dropUser },
  { name: 'usersInfo', auth: 'authenticated', run: usersInfo },
  { name: 'saslStart', auth: 'none', anyRole: true, run: saslStart },
  { name: 'saslContinue', auth: 'none', anyRole: true, run: saslContinue },
  { name: 'connectionStatus', auth: 'none', anyRole: true, run: connectionStatus },
];
