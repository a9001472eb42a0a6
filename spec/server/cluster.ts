/**
 * A test replica set: N members, each on its own 127.0.0.1 port, sharing one
 * {@link Store}. Tests step the primary down, add and remove members and make
 * members stop answering; every change bumps each member's topologyVersion
 * and wakes the monitors waiting on a streaming hello.
 */
import { EventEmitter } from 'node:events';
import { ObjectId, type Document } from 'bson';
import { ClusterTimeKeys } from './auth/cluster-time';
import { UserStore } from './auth/users';
import { Member, type Role } from './member';
import { sessionsCollection } from './commands/session-listing';
import { oplogCollection } from './oplog-view';
import { SessionRegistry } from './sessions';
import { Store, type StoreOptions } from './store';

export interface ReplicaSetOptions extends StoreOptions {
  /** Data-bearing members (default 3). */
  members?: number;
  /** Adds an arbiter after the data members. */
  arbiter?: boolean;
  /** Every member answers as a mongos router (`msg: 'isdbgrid'`) instead of a replica-set member. */
  mongos?: boolean;
  /** Replica set name (default `rs0`). */
  setName?: string;
  /** First port; members take consecutive ports. 0 (default) picks free ports. */
  port?: number;
  /** Host name members announce (default `127.0.0.1`). */
  host?: string;
  /**
   * Authentication on, as `mongod --auth`: clients must authenticate (SCRAM)
   * before anything but the handshake, `$clusterTime` is signed, and these
   * users exist from the start (default role: root on admin; default
   * database: admin). With no users, a client on localhost may create the
   * first one (mongod's localhost exception).
   */
  auth?: { users?: InitialUser[] };
}

/** A user a replica set started with. */
interface InitialUser {
  user: string;
  pwd: string;
  /** The user's database (default `admin`). */
  db?: string;
  /** Role names on `db`, or `{ role, db }` (default root on admin). */
  roles?: Array<string | { role: string; db: string }>;
}

export class ReplicaSet extends EventEmitter {
  readonly store: Store;
  readonly sessions = new SessionRegistry();
  readonly setName: string;
  readonly mongos: boolean;
  readonly host: string;
  /** Clients must authenticate (`auth` option). */
  readonly auth: boolean;
  readonly users = new UserStore();
  readonly clusterKeys: ClusterTimeKeys;
  private readonly list: Member[] = [];
  private electionCounter = 0;
  electionId = ReplicaSet.electionIdFor(0);
  setVersion = 1;

  private constructor(options: ReplicaSetOptions) {
    super();
    // Every streaming hello waits on 'topologyChanged'.
    this.setMaxListeners(0);
    this.store = new Store(options);
    this.store.systemCollections.set('local.oplog.rs', oplogCollection);
    this.store.systemCollections.set('config.system.sessions', () => sessionsCollection(this.sessions));
    this.setName = options.setName ?? 'rs0';
    this.mongos = options.mongos ?? false;
    this.host = options.host ?? '127.0.0.1';
    this.auth = options.auth !== undefined;
    this.clusterKeys = new ClusterTimeKeys(this.auth);
    for (const u of options.auth?.users ?? []) {
      this.users.create(u.user, u.db ?? 'admin', u.pwd, u.roles ?? [{ role: 'root', db: 'admin' }]);
    }
  }

  /** Starts the members and elects the first data member primary. */
  static async start(options: ReplicaSetOptions = {}): Promise<ReplicaSet> {
    const rs = new ReplicaSet(options);
    const count = options.members ?? 3;
    const firstPort = options.port ?? 0;
    try {
      for (let i = 0; i < count; i++) {
        await rs.launch(rs.mongos ? 'mongos' : i === 0 ? 'primary' : 'secondary', firstPort ? firstPort + i : 0);
      }
      if (options.arbiter) await rs.launch('arbiter', firstPort ? firstPort + count : 0);
    } catch (err) {
      await rs.close();
      throw err;
    }
    return rs;
  }

  get members(): readonly Member[] {
    return this.list;
  }

  get primary(): Member | undefined {
    return this.list.find((m) => m.role === 'primary');
  }

  /** A connection string the stock driver discovers the whole set from. */
  get uri(): string {
    const hosts = this.list.filter((m) => m.role !== 'arbiter').map((m) => m.address).join(',');
    return this.mongos ? `mongodb://${hosts}/` : `mongodb://${hosts}/?replicaSet=${this.setName}`;
  }

  /** The hello fields every member reports about the set. */
  describe(): Document {
    const dataMembers = this.list.filter((m) => m.role === 'primary' || m.role === 'secondary');
    const arbiters = this.list.filter((m) => m.role === 'arbiter');
    const description: Document = {
      hosts: dataMembers.map((m) => m.address),
      setName: this.setName,
      setVersion: this.setVersion,
    };
    if (arbiters.length > 0) description.arbiters = arbiters.map((m) => m.address);
    const primary = this.primary;
    if (primary) description.primary = primary.address;
    return description;
  }

  /** Responding secondaries that could take over from the primary. */
  get electable(): Member[] {
    const now = Date.now();
    return this.list.filter((m) => m.role === 'secondary' && m.responding && m.frozenUntil <= now);
  }

  /**
   * The primary steps down and the next data member is elected; with no
   * other electable member the set is left without a primary. Open
   * transactions are aborted, as a stepdown does in mongod.
   */
  stepDown(): Member | undefined {
    const old = this.primary;
    if (!old) return undefined;
    const electable = this.electable;
    const next = electable.find((m) => this.list.indexOf(m) > this.list.indexOf(old)) ?? electable[0];
    old.role = 'secondary';
    this.sessions.abortAll();
    if (next) this.elect(next);
    else this.topologyChanged();
    return next;
  }

  /** Makes `member` primary (the current one, if any, becomes secondary). */
  elect(member: Member): void {
    if (member.role !== 'primary' && member.role !== 'secondary') {
      throw new Error(`${member.address} is ${member.role === 'arbiter' ? 'an arbiter' : 'a router'} and cannot be elected`);
    }
    const current = this.primary;
    if (current && current !== member) current.role = 'secondary';
    if (current !== member) this.sessions.abortAll();
    member.role = 'primary';
    this.electionCounter += 1;
    this.electionId = ReplicaSet.electionIdFor(this.electionCounter);
    this.topologyChanged();
  }

  async addMember(options: { arbiter?: boolean } = {}): Promise<Member> {
    const member = await this.launch(this.mongos ? 'mongos' : options.arbiter ? 'arbiter' : 'secondary', 0);
    this.setVersion += 1;
    this.topologyChanged();
    return member;
  }

  async removeMember(member: Member): Promise<void> {
    const index = this.list.indexOf(member);
    if (index < 0) throw new Error(`${member.address} is not a member of ${this.setName}`);
    const wasPrimary = member.role === 'primary';
    this.list.splice(index, 1);
    this.setVersion += 1;
    if (wasPrimary) {
      const next = this.list.find((m) => m.role === 'secondary' && m.responding);
      if (next) this.elect(next);
    }
    this.topologyChanged();
    await member.stop();
  }

  /** A member that stops responding refuses connections and drops the ones it has. */
  async setResponding(member: Member, responding: boolean): Promise<void> {
    await member.setResponding(responding);
    this.topologyChanged();
  }

  /** Bumps every member's topologyVersion and wakes streaming hellos. */
  topologyChanged(): void {
    for (const m of this.list) m.topologyVersionCounter += 1n;
    this.emit('topologyChanged');
  }

  async close(): Promise<void> {
    const members = this.list.splice(0, this.list.length);
    await Promise.all(members.map((m) => m.stop()));
    this.removeAllListeners();
  }

  private async launch(role: Role, port: number): Promise<Member> {
    const member = new Member(this, role);
    await member.listen(port);
    this.list.push(member);
    return member;
  }

  private static electionIdFor(counter: number): ObjectId {
    return ObjectId.createFromHexString(`7fffffff${counter.toString(16).padStart(16, '0')}`);
  }
}
