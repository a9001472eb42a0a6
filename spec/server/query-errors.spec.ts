/**
 * The query engine's failures: a mistake mingo detects the way mongod does
 * comes back with mongod's code; anything else mingo throws is the test
 * server's own failure, answered as InternalError (1), never as a plausible
 * user error such as BadValue.
 */
import { CommandError } from './errors';
import { guard } from './query';

function failure(fn: () => unknown): CommandError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CommandError);
    return err as CommandError;
  }
  throw new Error('expected a failure');
}

describe('query engine errors', () => {
  it('keeps mongod\'s code for a mistake mingo reports as mongod does', () => {
    expect(failure(() => guard(() => { throw new Error('unknown query operator $nope'); }))).toMatchObject({ code: 2, codeName: 'BadValue' });
  });

  it('answers anything else as InternalError, with mingo\'s message', () => {
    const error = failure(() => guard(() => { throw new Error('some engine failure'); }));
    expect(error).toMatchObject({ code: 1, codeName: 'InternalError' });
    expect(error.message).toContain('some engine failure');
    expect(failure(() => guard(() => { throw new TypeError("Cannot read properties of undefined (reading 'x')"); }))).toMatchObject({ code: 1 });
  });

  it('passes a CommandError through unchanged', () => {
    const original = new CommandError('TypeMismatch', 'mismatch');
    expect(failure(() => guard(() => { throw original; }))).toBe(original);
  });
});
