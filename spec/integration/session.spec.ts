/**
 * RxClientSession on the run's backend: explicit transactions as
 * Observables, and `withTransaction` — commit on complete, abort on error and
 * on unsubscribe, retries per the driver's transaction rules.
 */
import { MongoServerError, type Document } from 'mongodb';
import { concat, firstValueFrom, lastValueFrom, NEVER, switchMap, throwError, toArray } from 'rxjs';
import type { RxMongoClient } from '../../lib/client/client';
import type { RxCollection } from '../../lib/client/collection';
import type { RxClientSession } from '../../lib/client/session';
import { describeWith, uniqueDbName } from '../support/backend';
import { eventually, failCommand, monitoredClient, settle, type Monitored } from './client-monitor';

let m: Monitored;
let client: RxMongoClient;
let accounts: RxCollection<{ _id: string; balance: number }>;
let session: RxClientSession;

beforeEach(async () => {
  m = monitoredClient();
  client = m.client;
  accounts = client.db(uniqueDbName('tx')).collection('accounts');
  // Transactions cannot create collections on every server version: create it first.
  await firstValueFrom(accounts.insertOne({ _id: 'seed', balance: 0 }));
  session = await firstValueFrom(client.startSession());
  m.reset();
});

afterEach(async () => {
  await firstValueFrom(session.endSession());
  await lastValueFrom(client.close());
});

/** Documents other than the seed, as seen outside any transaction. */
async function committed(): Promise<Document[]> {
  return lastValueFrom(accounts.find({ _id: { $ne: 'seed' } }, { sort: { _id: 1 } }).pipe(toArray()));
}

describe('startTransaction / commitTransaction / abortTransaction / endSession', () => {
  it('are cold and commit explicitly', async () => {
    const start$ = session.startTransaction();
    expect(session.inTransaction).toBe(false);
    await firstValueFrom(start$);
    expect(session.inTransaction).toBe(true);
    await firstValueFrom(accounts.insertOne({ _id: 'a', balance: 1 }, { session }));
    expect(await committed()).toEqual([]);
    const commit$ = session.commitTransaction();
    await settle();
    expect(m.commands('commitTransaction')).toHaveLength(0);
    await firstValueFrom(commit$);
    expect(m.commands('commitTransaction')).toHaveLength(1);
    expect(await committed()).toEqual([{ _id: 'a', balance: 1 }]);
  });

  it('abort explicitly', async () => {
    await firstValueFrom(session.startTransaction());
    await firstValueFrom(accounts.insertOne({ _id: 'a', balance: 1 }, { session: session.driver }));
    await firstValueFrom(session.abortTransaction());
    expect(m.commands('abortTransaction')).toHaveLength(1);
    expect(await committed()).toEqual([]);
  });

  it('errors through the error channel for a transaction in the wrong state', async () => {
    await expect(firstValueFrom(session.commitTransaction())).rejects.toThrow(/No transaction started/);
    await firstValueFrom(session.startTransaction());
    await expect(firstValueFrom(session.startTransaction())).rejects.toThrow(/already in progress/);
    await firstValueFrom(session.abortTransaction());
  });

  it('endSession aborts a running transaction and ends the session', async () => {
    await firstValueFrom(session.startTransaction());
    await firstValueFrom(accounts.insertOne({ _id: 'a', balance: 1 }, { session }));
    await firstValueFrom(session.endSession());
    expect(session.hasEnded).toBe(true);
    expect(m.commands('abortTransaction')).toHaveLength(1);
    expect(await committed()).toEqual([]);
  });
});

describe('withTransaction(fn, options?)', () => {
  const transfer = (s: RxClientSession) =>
    concat(
      accounts.insertOne({ _id: 'a', balance: 10 }, { session: s }),
      accounts.insertOne({ _id: 'b', balance: 20 }, { session: s }),
    );

  it('sends nothing before subscribe, commits on complete and emits the committed values', async () => {
    const tx$ = session.withTransaction(transfer);
    await settle();
    expect(m.started).toHaveLength(0);
    const results = await lastValueFrom(tx$.pipe(toArray()));
    expect(results.map((r) => r.insertedId)).toEqual(['a', 'b']);
    expect(m.commands('commitTransaction')).toHaveLength(1);
    expect(m.commands('insert').every((c) => c.txnNumber !== undefined && c.lsid !== undefined)).toBe(true);
    expect(await committed()).toEqual([
      { _id: 'a', balance: 10 },
      { _id: 'b', balance: 20 },
    ]);
  });

  it('runs a new transaction on each subscribe', async () => {
    const bump$ = session.withTransaction((s) => accounts.updateOne({ _id: 'seed' }, { $inc: { balance: 1 } }, { session: s }));
    await firstValueFrom(bump$);
    await firstValueFrom(bump$);
    expect(m.commands('commitTransaction')).toHaveLength(2);
    expect(await firstValueFrom(accounts.findOne({ _id: 'seed' }))).toEqual({ _id: 'seed', balance: 2 });
  });

  it('aborts when the body errors and passes the error through unchanged', async () => {
    const boom = new Error('validation failed');
    const tx$ = session.withTransaction((s) =>
      concat(
        accounts.insertOne({ _id: 'a', balance: 10 }, { session: s }),
        throwError(() => boom),
      ),
    );
    await expect(lastValueFrom(tx$)).rejects.toBe(boom);
    expect(m.commands('abortTransaction')).toHaveLength(1);
    expect(m.commands('commitTransaction')).toHaveLength(0);
    expect(await committed()).toEqual([]);
  });

  it('passes a server error from the body through with its code', async () => {
    const tx$ = session.withTransaction((s) =>
      concat(
        accounts.insertOne({ _id: 'a', balance: 10 }, { session: s }),
        accounts.insertOne({ _id: 'a', balance: 10 }, { session: s }),
      ),
    );
    const error = await lastValueFrom(tx$).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(11000);
    expect(await committed()).toEqual([]);
  });

  it('aborts on unsubscribe', async () => {
    const subscription = session
      .withTransaction((s) => accounts.insertOne({ _id: 'a', balance: 10 }, { session: s }).pipe(switchMap(() => NEVER)))
      .subscribe();
    await eventually(() => m.succeeded.some((e) => e.commandName === 'insert'), 'insert in the transaction');
    subscription.unsubscribe();
    await eventually(() => m.commands('abortTransaction').length === 1, 'abortTransaction');
    expect(m.commands('commitTransaction')).toHaveLength(0);
    await eventually(() => !session.inTransaction, 'transaction aborted');
    expect(await committed()).toEqual([]);
  });

  it('withSession + withTransaction ends the session after the commit', async () => {
    let used: RxClientSession | undefined;
    await lastValueFrom(
      client.withSession((s) => {
        used = s;
        return s.withTransaction(transfer);
      }),
    );
    expect(used?.hasEnded).toBe(true);
    expect(await committed()).toHaveLength(2);
  });
});

describeWith(['failCommand'], 'withTransaction retries', () => {
  it('reruns the body on TransientTransactionError and emits only the committed attempt', async () => {
    await failCommand(m, { failCommands: ['insert'], errorCode: 112, errorLabels: ['TransientTransactionError'] });
    let runs = 0;
    const results = await lastValueFrom(
      session
        .withTransaction((s) => {
          runs += 1;
          return accounts.insertOne({ _id: `run${runs}`, balance: runs }, { session: s });
        })
        .pipe(toArray()),
    );
    expect(runs).toBe(2);
    expect(results.map((r) => r.insertedId)).toEqual(['run2']);
    expect(m.commands('insert')).toHaveLength(2);
    expect(m.commands('commitTransaction')).toHaveLength(1);
    expect(await committed()).toEqual([{ _id: 'run2', balance: 2 }]);
  });

  it('retries the commit on UnknownTransactionCommitResult without rerunning the body', async () => {
    await failCommand(m, { failCommands: ['commitTransaction'], errorCode: 2, errorLabels: ['UnknownTransactionCommitResult'] });
    let runs = 0;
    await lastValueFrom(
      session.withTransaction((s) => {
        runs += 1;
        return accounts.insertOne({ _id: 'a', balance: 1 }, { session: s });
      }),
    );
    expect(runs).toBe(1);
    expect(m.commands('commitTransaction')).toHaveLength(2);
    expect(await committed()).toEqual([{ _id: 'a', balance: 1 }]);
  });

  it('gives up on a non-transient error without retrying', async () => {
    await failCommand(m, { failCommands: ['insert'], errorCode: 2 });
    let runs = 0;
    const error = await lastValueFrom(
      session.withTransaction((s) => {
        runs += 1;
        return accounts.insertOne({ _id: 'a', balance: 1 }, { session: s });
      }),
    ).catch((err: unknown) => err);
    expect((error as MongoServerError).code).toBe(2);
    expect(runs).toBe(1);
  });
});
