/**
 * The dispatcher's session hooks: before a command runs, attach the logical
 * session and the transaction it names (or the cached reply of a retryable
 * write already applied); after it succeeds, remember a retryable write's
 * reply so a retry is answered without writing again.
 */
import type { Document } from 'bson';
import type { CommandContext, CommandSpec } from './commands/types';
import { CommandError } from './errors';
import { Transaction, type ServerSession } from './sessions';

export interface Begun {
  retryableWrite: boolean;
  cachedReply?: Document;
}

/** Attaches the session and transaction a command runs in. */
export function beginCommand(ctx: CommandContext, spec: CommandSpec, cmd: Document): Begun {
  const lsid = cmd.lsid as Document | undefined;
  if (!lsid) {
    if (cmd.txnNumber !== undefined) throw new CommandError('InvalidOptions', 'Transaction number requires a session ID to also be specified');
    return { retryableWrite: false };
  }
  const session = ctx.rs.sessions.get(lsid, ctx.connection.user);
  ctx.session = session;
  if (cmd.txnNumber === undefined) {
    if (cmd.autocommit !== undefined || cmd.startTransaction !== undefined) {
      throw new CommandError('InvalidOptions', "'autocommit' and 'startTransaction' need a 'txnNumber'");
    }
    return { retryableWrite: false };
  }
  const txnNumber = BigInt(cmd.txnNumber.toString());
  if (cmd.autocommit === false) {
    ctx.transaction = transactionFor(ctx, spec, cmd, session, txnNumber);
    ctx.view = ctx.transaction;
    return { retryableWrite: false };
  }
  if (cmd.autocommit !== undefined) throw new CommandError('InvalidOptions', "'autocommit' may only be false");
  if (!spec.retryable) return { retryableWrite: false };
  if (txnNumber < session.txnNumber) {
    throw new CommandError('TransactionTooOld', `Retryable write with txnNumber ${txnNumber} is prohibited on session because a newer retryable write with txnNumber ${session.txnNumber} has already started on this session.`);
  }
  if (txnNumber === session.txnNumber && session.retriedReply) {
    return { retryableWrite: true, cachedReply: session.retriedReply };
  }
  if (txnNumber > session.txnNumber) {
    session.transaction?.abort();
    session.statements.clear();
  }
  session.txnNumber = txnNumber;
  session.retriedReply = undefined;
  return { retryableWrite: true };
}

/** Remembers a retryable write's reply so that a retry returns it without writing again. */
export function endCommand(ctx: CommandContext, spec: CommandSpec, cmd: Document, reply: Document): void {
  // A reply with writeErrors is not kept: a retry runs the statements that failed again.
  if (ctx.session && !ctx.transaction && spec.retryable && cmd.txnNumber !== undefined && reply.ok === 1 && !reply.writeErrors) {
    ctx.session.retriedReply = { ...reply };
  }
}

function transactionFor(
  ctx: CommandContext,
  spec: CommandSpec,
  cmd: Document,
  session: ServerSession,
  txnNumber: bigint,
): Transaction {
  if (cmd.startTransaction === true) {
    if (txnNumber < session.txnNumber || (txnNumber === session.txnNumber && session.transaction)) {
      throw new CommandError('TransactionTooOld', `txnNumber ${txnNumber} is less than or equal to the last txnNumber ${session.txnNumber} on this session`);
    }
    session.transaction?.abort();
    session.statements.clear();
    session.txnNumber = txnNumber;
    const lifetimeMs = ctx.member.parameters.number('transactionLifetimeLimitSeconds') * 1000;
    session.transaction = new Transaction(ctx.store, ctx.rs.sessions, session.lsid, txnNumber, lifetimeMs);
  } else if (cmd.startTransaction !== undefined) {
    throw new CommandError('InvalidOptions', "'startTransaction' may only be true");
  }
  const txn = session.transaction;
  if (!txn || txn.txnNumber !== txnNumber) {
    throw new CommandError('NoSuchTransaction', `Transaction with { txnNumber: ${txnNumber} } has been aborted or was never started`, {
      labels: ['TransientTransactionError'],
    });
  }
  if (!spec.inTransaction) {
    throw new CommandError('OperationNotSupportedInTransaction', `Cannot run '${spec.name}' in a multi-document transaction.`);
  }
  if (txn.state === 'aborted' && spec.endsTransaction !== 'abort') {
    throw new CommandError('NoSuchTransaction', `Transaction with { txnNumber: ${txnNumber} } has been aborted.`, {
      labels: ['TransientTransactionError'],
    });
  }
  if (txn.state === 'committed' && spec.endsTransaction !== 'commit') {
    throw new CommandError('TransactionCommitted', `Transaction with { txnNumber: ${txnNumber} } has been committed.`);
  }
  return txn;
}
