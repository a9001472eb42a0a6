import { MongoError, MongoNetworkError, MongoServerError, MongoTopologyClosedError, Timestamp } from 'mongodb';
import { classifyError, isTransientStoreError, operationTimeOf } from '../../../lib/change-stream/classify';
import { CheckpointCorruptError, CheckpointLeaseLostError, CheckpointTimeoutError, RxMongoError } from '../../../lib/errors';

describe('classifyError', () => {
  it('sorts ChangeStreamHistoryLost (286) and CappedPositionLost (136) as historyLost', () => {
    expect(classifyError(new MongoServerError({ message: 'gone', code: 286 }))).toBe('historyLost');
    expect(classifyError(new MongoServerError({ message: 'fell off the oplog', code: 136 }))).toBe('historyLost');
  });

  it('sorts a topology closed after a failed first connection as transient (the client may connect later)', () => {
    expect(classifyError(new MongoTopologyClosedError())).toBe('transient');
  });

  it('sorts network errors, resumable labels and restartable codes as transient', () => {
    expect(classifyError(new MongoNetworkError('socket closed'))).toBe('transient');
    expect(classifyError(new MongoServerError({ message: 'x', code: 2, errorLabels: ['ResumableChangeStreamError'] }))).toBe('transient');
    for (const code of [6, 7, 43, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]) {
      expect([code, classifyError(new MongoServerError({ message: 'x', code }))]).toEqual([code, 'transient']);
    }
  });

  it('sorts auth, bad pipeline, invalid token and non-Mongo errors as fatal', () => {
    expect(classifyError(new MongoServerError({ message: 'auth', code: 18 }))).toBe('fatal');
    expect(classifyError(new MongoServerError({ message: 'unauthorized', code: 13 }))).toBe('fatal');
    expect(classifyError(new MongoServerError({ message: 'Unrecognized pipeline stage', code: 40324 }))).toBe('fatal');
    expect(classifyError(new MongoServerError({ message: 'bad token', code: 260 }))).toBe('fatal');
    expect(classifyError(new MongoError('api misuse'))).toBe('fatal');
    expect(classifyError(new RxMongoError('ours'))).toBe('fatal');
    expect(classifyError(new Error('plain'))).toBe('fatal');
    expect(classifyError('a string')).toBe('fatal');
  });
});

describe('operationTimeOf', () => {
  it('reads the server reply operationTime, when there is one', () => {
    const time = new Timestamp({ t: 5, i: 7 });
    expect(operationTimeOf(new MongoServerError({ message: 'x', code: 286, operationTime: time }))).toBe(time);
    expect(operationTimeOf(new MongoServerError({ message: 'x', code: 286 }))).toBeUndefined();
    expect(operationTimeOf(new Error('x'))).toBeUndefined();
  });
});

describe('isTransientStoreError', () => {
  it('retries timeouts, transient driver errors, transient system calls and errors that say transient: true', () => {
    expect(isTransientStoreError(new CheckpointTimeoutError('save', 'k', 10))).toBe(true);
    expect(isTransientStoreError(new MongoNetworkError('down'))).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('busy'), { code: 'EBUSY' }))).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('redis: connection lost'), { transient: true }))).toBe(true);
  });

  it('does not retry a lost lease, a corrupt checkpoint, a full disk, a bug', () => {
    expect(isTransientStoreError(new CheckpointLeaseLostError('k', 1, 'taken'))).toBe(false);
    expect(isTransientStoreError(new CheckpointCorruptError('f', 'torn'))).toBe(false);
    expect(isTransientStoreError(Object.assign(new Error('full'), { code: 'ENOSPC' }))).toBe(false);
    expect(isTransientStoreError(new TypeError('bug'))).toBe(false);
    expect(isTransientStoreError(undefined)).toBe(false);
  });
});
