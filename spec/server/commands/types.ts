import type { Document } from 'bson';
import type { ReplicaSet } from '../cluster';
import type { Connection } from '../connection';
import type { Member } from '../member';
import type { RunningOperation } from '../operations';
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
  /** A retryable write (`txnNumber` outside a transaction): its statements are remembered one by one. */
  retryableWrite?: boolean;
  /** The command as `currentOp` lists it; killed by `killOp`. */
  operation: RunningOperation;
}

/** Where a command may run in a replica set. */
export type SecondaryRule =
  /** Only on the primary: NotWritablePrimary elsewhere. */
  | 'primary'
  /** On a secondary only when the client allows it (`$readPreference` other than primary, or a legacy secondaryOk). */
  | 'secondaryOk'
  /** On any data-bearing member. */
  | 'any';

/**
 * One row of the command table: a handler and the properties the dispatcher
 * acts on. The dispatcher knows no command by name; whatever differs between
 * commands is a property here.
 */
export interface CommandSpec {
  /** The command's name as the first key of the command document. */
  name: string;
  aliases?: string[];
  /** Changes data (or the catalog): refused on secondaries. */
  write?: boolean;
  /** Reads data: on a secondary only when the client allows it. */
  read?: boolean;
  /** Where it may run; default: `primary` for writes, `secondaryOk` for reads, `any` otherwise. */
  secondary?: SecondaryRule;
  /** Reads at a snapshot with `readConcern: { level: 'snapshot' }` outside a transaction (find, aggregate, distinct). */
  snapshotReads?: boolean;
  /** A retryable write: with `txnNumber` outside a transaction, a retry gets the first reply back. */
  retryable?: boolean;
  /** Needs the admin database. */
  adminOnly?: boolean;
  /** May run inside a multi-document transaction. */
  inTransaction?: boolean;
  /** Ends the transaction it names (commitTransaction, abortTransaction): its errors do not abort it. */
  endsTransaction?: 'commit' | 'abort';
  /** Serves a batch of an open cursor: its errors on a change-stream cursor are resumable. */
  continuesCursor?: boolean;
  /** May arrive as a legacy OP_QUERY (the handshake); everything else must come as OP_MSG. */
  opQuery?: boolean;
  /** Answered by arbiters and routers too (hello, ping, …). */
  anyRole?: boolean;
  /**
   * What it needs of the user when authentication is on: nothing (the
   * handshake, authentication), any authenticated user, user administration
   * on its database, or (the default) read or write on its database for the
   * commands marked `read`/`write` and a cluster role for the others.
   */
  auth?: 'none' | 'authenticated' | 'userAdmin' | 'cluster';
  run(ctx: CommandContext, cmd: Document): Promise<Document> | Document;
}

/** The member roles a command may run on, from its row. */
export function secondaryRule(spec: CommandSpec): SecondaryRule {
  return spec.secondary ?? (spec.write ? 'primary' : spec.read ? 'secondaryOk' : 'any');
}
