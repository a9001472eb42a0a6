/**
 * Users and what they may do: the user store a replica set shares (mongod
 * keeps it in `admin.system.users`), the built-in roles, and the check the
 * dispatcher makes before a command runs when authentication is on.
 *
 * Simplified authorization: privileges follow the built-in roles coarsely
 * — `read` (and above) may run the commands the command table marks as
 * reads on its database, `readWrite`/`dbOwner` the writes, `userAdmin`/
 * `dbOwner` user management, the `…AnyDatabase` roles on every database,
 * and `root` or a cluster role everything else. Custom roles are not
 * supported.
 */
import { UUID, type Document } from 'bson';
import { CommandError } from '../errors';
import { MECHANISMS, deriveCredential, type Mechanism, type ScramCredential } from './scram';

interface Role {
  role: string;
  db: string;
}

export interface UserRecord {
  userId: UUID;
  user: string;
  db: string;
  roles: Role[];
  mechanisms: Mechanism[];
  credentials: Partial<Record<Mechanism, ScramCredential>>;
  customData?: Document;
}

/** mongod's built-in roles; the ones that may only be granted on admin are marked. */
const BUILT_IN_ROLES: Record<string, { adminOnly: boolean }> = {
  read: { adminOnly: false },
  readWrite: { adminOnly: false },
  dbAdmin: { adminOnly: false },
  dbOwner: { adminOnly: false },
  userAdmin: { adminOnly: false },
  enableSharding: { adminOnly: false },
  clusterAdmin: { adminOnly: true },
  clusterManager: { adminOnly: true },
  clusterMonitor: { adminOnly: true },
  hostManager: { adminOnly: true },
  backup: { adminOnly: true },
  restore: { adminOnly: true },
  readAnyDatabase: { adminOnly: true },
  readWriteAnyDatabase: { adminOnly: true },
  userAdminAnyDatabase: { adminOnly: true },
  dbAdminAnyDatabase: { adminOnly: true },
  root: { adminOnly: true },
  __system: { adminOnly: true },
};

/** The users of a deployment, by `user@db`. */
export class UserStore {
  private readonly users = new Map<string, UserRecord>();

  get size(): number {
    return this.users.size;
  }

  find(user: string, db: string): UserRecord | undefined {
    return this.users.get(`${user}@${db}`);
  }

  list(): UserRecord[] {
    return [...this.users.values()];
  }

  create(user: string, db: string, password: string, roles: unknown[], mechanisms: Mechanism[] = [...MECHANISMS], customData?: Document): UserRecord {
    if (this.find(user, db)) throw new CommandError('Location51003', `User "${user}@${db}" already exists`);
    const record: UserRecord = {
      userId: new UUID(),
      user,
      db,
      roles: roles.map((r) => parseRole(r, db)),
      mechanisms,
      credentials: Object.fromEntries(mechanisms.map((m) => [m, deriveCredential(m, user, password)])),
      ...(customData ? { customData } : {}),
    };
    this.users.set(`${user}@${db}`, record);
    return record;
  }

  drop(user: string, db: string): void {
    if (!this.users.delete(`${user}@${db}`)) throw new CommandError('UserNotFound', `User '${user}@${db}' not found`);
  }
}

function parseRole(raw: unknown, db: string): Role {
  const role = typeof raw === 'string' ? { role: raw, db } : (raw as Document | null);
  if (!role || typeof role.role !== 'string' || typeof role.db !== 'string') {
    throw new CommandError('BadValue', 'Role names must be either strings or objects of the form {role: roleName, db: dbName}');
  }
  const builtIn = BUILT_IN_ROLES[role.role];
  if (!builtIn || (builtIn.adminOnly && role.db !== 'admin')) {
    throw new CommandError('RoleNotFound', `Could not find role: ${role.role}@${role.db}`);
  }
  return { role: role.role, db: role.db };
}

/** What a command needs of the user running it. */
export type Need = { kind: 'none' } | { kind: 'authenticated' } | { kind: 'read' | 'write' | 'userAdmin'; db: string } | { kind: 'cluster' };

const ON_DB: Record<'read' | 'write' | 'userAdmin', string[]> = {
  read: ['read', 'readWrite', 'dbOwner'],
  write: ['readWrite', 'dbOwner'],
  userAdmin: ['userAdmin', 'dbOwner'],
};
const ANY_DB: Record<'read' | 'write' | 'userAdmin', string[]> = {
  read: ['readAnyDatabase', 'readWriteAnyDatabase', 'root', '__system'],
  write: ['readWriteAnyDatabase', 'root', '__system'],
  userAdmin: ['userAdminAnyDatabase', 'root', '__system'],
};
const CLUSTER_ROLES = ['root', '__system', 'clusterAdmin', 'clusterManager', 'clusterMonitor', 'hostManager'];

/** Whether a user's roles grant what a command needs. */
export function allowed(user: UserRecord | undefined, need: Need): boolean {
  if (need.kind === 'none') return true;
  if (!user) return false;
  if (need.kind === 'authenticated') return true;
  const has = (roles: string[], db?: string) => user.roles.some((r) => roles.includes(r.role) && (db === undefined || r.db === db));
  if (need.kind === 'cluster') return has(CLUSTER_ROLES, 'admin');
  return has(ON_DB[need.kind], need.db) || has(ANY_DB[need.kind], 'admin');
}

/** A user as usersInfo shows it. */
export function userInfo(record: UserRecord, showCredentials: boolean): Document {
  return {
    _id: `${record.db}.${record.user}`,
    userId: record.userId,
    user: record.user,
    db: record.db,
    roles: record.roles,
    ...(record.customData ? { customData: record.customData } : {}),
    ...(showCredentials ? { credentials: record.credentials } : {}),
    mechanisms: record.mechanisms,
  };
}
