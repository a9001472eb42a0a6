import { MongoError } from 'mongodb';
import { ClientClosedError, ConfigurationError, InvalidNameError, RxMongoError } from '../../lib/errors';

describe('errors', () => {
  it.each([
    ['InvalidNameError', new InvalidNameError('a.b', 'no dots')],
    ['ConfigurationError', new ConfigurationError('no database')],
    ['ClientClosedError', new ClientClosedError()],
  ])('%s is an RxMongoError, not a driver error, and names itself', (name, error) => {
    expect(error).toBeInstanceOf(RxMongoError);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(MongoError);
    expect(error.name).toBe(name);
    expect(String(error)).toContain(name);
  });

  it('InvalidNameError carries the rejected name and the reason', () => {
    const error = new InvalidNameError('a.b', 'database names cannot contain "."');
    expect(error.invalidName).toBe('a.b');
    expect(error.message).toContain('"a.b"');
    expect(error.message).toContain('cannot contain');
  });

  it('ConfigurationError keeps its cause', () => {
    const cause = new Error('bad scheme');
    expect(new ConfigurationError('invalid connection string', { cause }).cause).toBe(cause);
  });
});
