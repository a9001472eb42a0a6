import { InvalidNameError } from '../../../lib/errors';
import { validateCollectionName, validateDatabaseName } from '../../../lib/driver/names';

describe('validateDatabaseName', () => {
  it.each(['app', 'a-b_c', 'x'.repeat(63), 'é'.repeat(31), '日本'])('accepts %j', (name) => {
    expect(() => validateDatabaseName(name)).not.toThrow();
  });

  it.each([
    ['', 'empty'],
    ['a/b', '/'],
    ['a\\b', '\\'],
    ['a.b', '.'],
    ['a b', 'space'],
    ['a"b', '"'],
    ['a$b', '$'],
    ['a*b', '*'],
    ['a<b', '<'],
    ['a>b', '>'],
    ['a:b', ':'],
    ['a|b', '|'],
    ['a?b', '?'],
    ['a\0b', 'NUL'],
    ['x'.repeat(64), 'over 63 bytes'],
    ['é'.repeat(32), '64 bytes in UTF-8'],
  ])('refuses %j (%s) with InvalidNameError', (name) => {
    expect(() => validateDatabaseName(name)).toThrow(InvalidNameError);
  });

  it.each([undefined, null, 42, {}, ['a']])('refuses the non-string %p with TypeError', (name) => {
    expect(() => validateDatabaseName(name)).toThrow(TypeError);
  });
});

describe('validateCollectionName', () => {
  it.each(['users', 'system.views', 'a.b', 'oplog.$main', '$cmd', 'with space'])('accepts %j', (name) => {
    expect(() => validateCollectionName(name)).not.toThrow();
  });

  it.each(['', 'a$b', '$x', 'a\0b', '.a', 'a.', 'a..b'])('refuses %j with InvalidNameError', (name) => {
    expect(() => validateCollectionName(name)).toThrow(InvalidNameError);
  });

  it('refuses a non-string with TypeError', () => {
    expect(() => validateCollectionName(1)).toThrow(TypeError);
  });
});
