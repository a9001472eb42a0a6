import { MongoError } from 'mongodb';
import { defer, lastValueFrom, of, Subject, throwError, toArray } from 'rxjs';
import { ClientClosedError } from '../../../lib/errors';
import { fromTransaction } from '../../../lib/driver/transaction';
import { Deferred, fakeContext, FakeSession, settle } from './fakes';

function transient(message: string): MongoError {
  const err = new MongoError(message);
  err.addErrorLabel('TransientTransactionError');
  return err;
}

describe('fromTransaction', () => {
  it('starts nothing before subscribe and a new transaction per subscribe', async () => {
    const { context } = fakeContext();
    const session = new FakeSession();
    const tx$ = fromTransaction(context, session.asSession(), () => of(1, 2));
    expect(session.attempts).toBe(0);
    await expect(lastValueFrom(tx$.pipe(toArray()))).resolves.toEqual([1, 2]);
    await expect(lastValueFrom(tx$.pipe(toArray()))).resolves.toEqual([1, 2]);
    expect(session.commits).toBe(2);
  });

  it('emits the values only after the commit', async () => {
    const { context } = fakeContext();
    const session = new FakeSession();
    session.commitGate = new Deferred();
    const seen: number[] = [];
    fromTransaction(context, session.asSession(), () => of(1, 2)).subscribe((v) => seen.push(v));
    await settle();
    expect(seen).toEqual([]);
    session.commitGate.resolve();
    await settle();
    expect(seen).toEqual([1, 2]);
  });

  it('passes a body error through unchanged and aborts', async () => {
    const { context } = fakeContext();
    const session = new FakeSession();
    const boom = new MongoError('duplicate');
    await expect(lastValueFrom(fromTransaction(context, session.asSession(), () => throwError(() => boom)))).rejects.toBe(boom);
    expect(session.aborts).toBe(1);
    expect(session.commits).toBe(0);
  });

  it('re-subscribes the body for a retried attempt and emits only the committed attempt', async () => {
    const { context } = fakeContext();
    const session = new FakeSession();
    let runs = 0;
    const body = () =>
      defer(() => {
        runs += 1;
        return runs === 1 ? throwError(() => transient('write conflict')) : of('second');
      });
    await expect(lastValueFrom(fromTransaction(context, session.asSession(), body).pipe(toArray()))).resolves.toEqual(['second']);
    expect(runs).toBe(2);
    expect(session.attempts).toBe(2);
  });

  it('on unsubscribe, unsubscribes the body and fails the attempt with a non-driver error so the driver aborts', async () => {
    const { context } = fakeContext();
    const session = new FakeSession();
    const inner = new Subject<number>();
    const subscription = fromTransaction(context, session.asSession(), () => inner).subscribe();
    await settle();
    expect(inner.observed).toBe(true);
    subscription.unsubscribe();
    expect(inner.observed).toBe(false);
    await settle();
    expect(session.aborts).toBe(1);
    expect(session.commits).toBe(0);
    expect(session.attemptErrors).toHaveLength(1);
    expect(session.attemptErrors[0]).not.toBeInstanceOf(MongoError);
  });

  it('errors with ClientClosedError after close, starting no transaction', async () => {
    const { context } = fakeContext();
    await context.close();
    const session = new FakeSession();
    await expect(lastValueFrom(fromTransaction(context, session.asSession(), () => of(1)))).rejects.toBeInstanceOf(
      ClientClosedError,
    );
    expect(session.attempts).toBe(0);
  });
});
