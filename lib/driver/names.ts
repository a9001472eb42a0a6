import { InvalidNameError } from '../errors';

/** The server refuses these in database names (its `DatabaseName` rules). */
const DATABASE_NAME_FORBIDDEN = /[/\\. "$*<>:|?\0]/;
const DATABASE_NAME_MAX_BYTES = 63;

/**
 * Throws `TypeError` for a non-string, `InvalidNameError` for a name the
 * server would refuse; the driver itself only rejects `.` in database names.
 */
export function validateDatabaseName(name: unknown): asserts name is string {
  if (typeof name !== 'string') {
    throw new TypeError(`database name must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new InvalidNameError(name, 'database names cannot be empty');
  const bad = DATABASE_NAME_FORBIDDEN.exec(name);
  if (bad) {
    throw new InvalidNameError(name, `database names cannot contain ${JSON.stringify(bad[0])}`);
  }
  if (Buffer.byteLength(name, 'utf8') > DATABASE_NAME_MAX_BYTES) {
    throw new InvalidNameError(name, `database names are at most ${DATABASE_NAME_MAX_BYTES} bytes`);
  }
}

/**
 * Throws `TypeError` for a non-string, `InvalidNameError` for a collection
 * name the server would refuse. `$` is refused except in the server's own
 * `oplog.$main` and `$cmd…` namespaces.
 */
export function validateCollectionName(name: unknown): asserts name is string {
  if (typeof name !== 'string') {
    throw new TypeError(`collection name must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new InvalidNameError(name, 'collection names cannot be empty');
  if (name.includes('\0')) throw new InvalidNameError(name, 'collection names cannot contain the NUL character');
  if (name.includes('$') && name !== 'oplog.$main' && !name.startsWith('$cmd')) {
    throw new InvalidNameError(name, `collection names cannot contain "$"`);
  }
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
    throw new InvalidNameError(name, 'collection names cannot start or end with "." or contain ".."');
  }
}

/**
 * A value as error messages name it: primitives by value (`NaN`, `42`,
 * `"secondary"`, cut at 40 characters), objects by kind (`an array`,
 * `a function`, `an instance of Foo`, `an object`).
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const name = (value as object).constructor?.name;
  return name === undefined || name === 'Object' ? 'an object' : `an instance of ${name}`;
}
