import type { Document } from 'bson';
import type { ReplicaSet } from '../cluster';
import type { Connection } from '../connection';
import type { Member } from '../member';
import type { ServerSession, Transaction } from '../sessions';
import type { DataView, Store } from '../store';
import type { Request } from '../wire';

/** Everything a command handler may use. */
export interface CommandContext {
  rs: ReplicaSet;
  member: Member;
  store: Store;
  connection: Connection;
  request: Request;
  /** The database the command targets. */
  db: string;
  /** Reads and writes go through this: the store, or the open transaction's snapshot. */
  view: DataView;
  session?: ServerSession;
  transaction?: Transaction;
}

export interface CommandSpec {
  /** The command's name as the first key of the command document. */
  name: string;
  aliases?: string[];
  /** Changes data: primary only, retryable with a txnNumber. */
  write?: boolean;
  /** Reads data: on a secondary only with secondaryOk. */
  read?: boolean;
  /** Needs the admin database. */
  adminOnly?: boolean;
  /** May run inside a multi-document transaction. */
  inTransaction?: boolean;
  /** Answered by arbiters and routers too (hello, ping, …). */
  anyRole?: boolean;
  run(ctx: CommandContext, cmd: Document): Promise<Document> | Document;
}
