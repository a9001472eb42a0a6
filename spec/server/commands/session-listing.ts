/**
 * The logical sessions as mongod lists them: `$listLocalSessions` (the
 * member's session cache), `$listSessions` and `config.system.sessions`
 * (the sessions collection, written when the cache is refreshed), and
 * `refreshLogicalSessionCacheNow`.
 *
 * Each session's `_id` is `{ id, uid }`, `uid` being the SHA-256 of the
 * user name (`user@db`; empty without authentication), as mongod makes it.
 */
import { createHash } from 'node:crypto';
import { Binary, UUID, type Document } from 'bson';
import { CommandError } from '../errors';
import type { SessionRecord, SessionRegistry } from '../sessions';
import { CollectionData } from '../store';
import { idKey } from '../values';
import { checkFields } from './args';
import { isDocument } from './statements';
import type { CommandContext } from './types';

/** mongod's session owner id: the SHA-256 of the user name. */
function sessionUid(user = ''): Binary {
  return new Binary(createHash('sha256').update(user).digest());
}

function recordDocument(record: SessionRecord): Document {
  const doc: Document = { _id: { id: record.lsid.id, uid: record.lsid.uid ?? sessionUid(record.user) }, lastUse: record.lastUse };
  if (record.user) doc.user = { name: record.user };
  return doc;
}

/** The uids a `$listLocalSessions`/`$listSessions` spec asks for; undefined for all users. */
function wantedUids(stage: string, spec: unknown, user: string | undefined): Set<string> | undefined {
  if (!isDocument(spec)) throw new CommandError('TypeMismatch', `${stage} options must be specified in an object`);
  checkFields(spec, stage, { allUsers: 'bool', users: 'array' });
  if (spec.allUsers === true && spec.users !== undefined) {
    throw new CommandError('FailedToParse', `${stage} may not specify both 'allUsers' and 'users'`);
  }
  if (spec.allUsers === true) return undefined;
  const users = spec.users === undefined
    ? [user ?? '']
    : (spec.users as Document[]).map((u) => `${String(u.user)}@${String(u.db)}`);
  return new Set(users.map((u) => sessionUid(u).toString('hex')));
}

function select(docs: Document[], uids: Set<string> | undefined): Document[] {
  return uids ? docs.filter((d) => uids.has((d._id.uid as Binary).toString('hex'))) : docs;
}

/** `$listLocalSessions`: the sessions in this member's cache. */
export function listLocalSessions(ctx: CommandContext, cmd: Document, spec: unknown): Document[] {
  if (cmd.aggregate !== 1) throw new CommandError('InvalidNamespace', '$listLocalSessions must be run with {aggregate: 1}');
  const uids = wantedUids('$listLocalSessions', spec, ctx.connection.user);
  const docs = ctx.rs.sessions.list().map((s) => recordDocument({ lsid: s.lsid, lastUse: new Date(s.lastUse), user: s.user }));
  return select(docs, uids);
}

/** `$listSessions`: the sessions collection, read through this stage only on `config.system.sessions`. */
export function listSessions(ctx: CommandContext, cmd: Document, spec: unknown): Document[] {
  if (ctx.db !== 'config' || cmd.aggregate !== 'system.sessions') {
    throw new CommandError('InvalidNamespace', '$listSessions may only be run against config.system.sessions');
  }
  const uids = wantedUids('$listSessions', spec, ctx.connection.user);
  return select([...ctx.rs.sessions.persisted.values()].map((r) => recordDocument(r)), uids);
}

const SESSIONS_UUID = new UUID();

/** `config.system.sessions` as a read-only collection. */
export function sessionsCollection(registry: SessionRegistry): CollectionData {
  const data = new CollectionData(SESSIONS_UUID, {});
  for (const record of registry.persisted.values()) {
    const doc = recordDocument(record);
    data.docs.set(idKey(doc._id), doc);
  }
  return data;
}
