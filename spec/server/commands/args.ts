/**
 * Command argument checks as mongod's IDL parser makes them: unknown fields,
 * missing required fields, wrong types and invalid namespaces, each with the
 * code and wording mongod replies with.
 */
import { Long, type Document } from 'bson';
import { CommandError, bsonTypeName } from '../errors';

/** How a field is typed in mongod's IDL. */
export type FieldType =
  | 'object'
  | 'array'
  | 'string'
  | 'bool'
  /** `bool`, or a number read as one (IDL `optionalBool`, `safeBool`). */
  | 'boolish'
  /** A whole number (IDL `safeInt64`). */
  | 'int64'
  /** An index name or key pattern. */
  | 'hint'
  /** An update document or pipeline. */
  | 'update'
  | 'any';

const EXPECTED: Record<Exclude<FieldType, 'any'>, string> = {
  object: "type 'object'",
  array: "type 'array'",
  string: "type 'string'",
  bool: "type 'bool'",
  // mongod's own quoting: the closing quote comes before the bracket.
  boolish: "types '[bool, long, int, decimal, double']",
  int64: "types '[long, int, decimal, double']",
  hint: "types '[string, object']",
  update: "types '[object, array']",
};

/** Fields every command accepts (mongod's generic arguments). */
const GENERIC = new Set([
  '$db', 'lsid', 'txnNumber', 'autocommit', 'startTransaction', 'stmtId', 'comment', 'maxTimeMS',
  'readConcern', 'writeConcern', '$readPreference', '$clusterTime', 'apiVersion', 'apiStrict',
  'apiDeprecationErrors', '$audit', '$client', 'clientOperationKey', 'txnRetryCounter',
  'mayBypassWriteBlocking', '$queryOptions', 'maxTimeMSOpOnly', 'usesDefaultMaxTimeMS',
  'databaseVersion', 'shardVersion', '$configTime', '$topologyTime', 'rawData', 'expectPrefix',
]);

function isDocument(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isNumber(value: unknown): boolean {
  return typeof value === 'number' || Long.isLong(value) ||
    ['Decimal128', 'Int32', 'Double'].includes((value as { _bsontype?: string } | null)?._bsontype ?? '');
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'object': return isDocument(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'bool': return typeof value === 'boolean';
    case 'boolish': return typeof value === 'boolean' || isNumber(value);
    case 'int64': return isNumber(value);
    case 'hint': return typeof value === 'string' || isDocument(value);
    case 'update': return isDocument(value) || Array.isArray(value);
    case 'any': return true;
  }
}

/** The error for a field of the wrong type; `path` is e.g. `find.filter`. */
export function wrongType(path: string, type: Exclude<FieldType, 'any'>, value: unknown): CommandError {
  return new CommandError('TypeMismatch', `BSON field '${path}' is the wrong type '${bsonTypeName(value)}', expected ${EXPECTED[type]}`);
}

export function missingField(path: string): CommandError {
  return new CommandError('Location40414', `BSON field '${path}' is missing but a required field`);
}

/**
 * Checks a (sub)document against its fields: unknown fields are refused
 * (40415), typed fields checked (14), required ones demanded (40414). `path`
 * prefixes field names in messages (`find`, `update.updates`). A null value
 * counts as absent. The command's own first field is skipped for commands.
 */
export function checkFields(
  doc: Document,
  path: string,
  fields: Record<string, FieldType>,
  options: { required?: string[]; command?: boolean } = {},
): void {
  const keys = Object.keys(doc);
  for (const key of options.command ? keys.slice(1) : keys) {
    if (options.command && GENERIC.has(key)) continue;
    const type = fields[key];
    if (type === undefined) throw new CommandError('Location40415', `BSON field '${path}.${key}' is an unknown field.`);
    const value = doc[key];
    if (value === null || value === undefined || type === 'any') continue;
    if (!hasType(value, type)) throw wrongType(`${path}.${key}`, type, value);
  }
  for (const key of options.required ?? []) {
    if (doc[key] === undefined || doc[key] === null) throw missingField(`${path}.${key}`);
  }
}

/** A number-like field as a JS number (absent → `undefined`). */
export function toNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return Number(String(value));
}

/** A `safeInt64` field that must also be >= 0 (skip, limit, batchSize). */
export function nonNegative(name: string, value: unknown): number | undefined {
  const n = toNumber(value);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n)) throw new CommandError('BadValue', `Expected an integer: ${name}: ${n}`);
  if (n < 0) throw new CommandError('Location51024', `BSON field '${name}' value must be >= 0, actual value '${n}'`);
  return n;
}

export function truthy(value: unknown): boolean {
  return toNumber(value) ? true : false;
}

/** The collection a command names as its first field, validated as mongod does. */
export function collectionName(cmd: Document, db: string): string {
  checkDatabase(db);
  const name = Object.keys(cmd)[0];
  const coll = cmd[name];
  if (typeof coll !== 'string') throw new CommandError('BadValue', `collection name has invalid type ${bsonTypeName(coll)}`);
  checkCollection(db, coll);
  return coll;
}

export function checkDatabase(db: string): void {
  if (db.length === 0 || db.length >= 64 || /[/\\. "$\0]/.test(db)) {
    throw new CommandError('InvalidNamespace', `Invalid database name: '${db}'`);
  }
}

export function checkCollection(db: string, coll: string): void {
  if (coll.length === 0 || coll.startsWith('.') || coll.includes('\0') || coll.includes('$')) {
    throw new CommandError('InvalidNamespace', `Invalid namespace specified '${db}.${coll}'`);
  }
}

/** A full namespace `db.coll` (renameCollection, bulkWrite's nsInfo). */
export function splitNamespace(ns: string): { db: string; coll: string } {
  const dot = ns.indexOf('.');
  if (dot <= 0) throw new CommandError('InvalidNamespace', `Invalid namespace specified '${ns}'`);
  const db = ns.slice(0, dot);
  const coll = ns.slice(dot + 1);
  checkDatabase(db);
  checkCollection(db, coll);
  return { db, coll };
}

/** The `cursor: { batchSize }` sub-document of aggregate and list commands. */
export function cursorBatchSize(cmd: Document, command: string): number | undefined {
  const cursor = cmd.cursor;
  if (cursor === undefined || cursor === null) return undefined;
  if (!isDocument(cursor)) throw wrongType(`${command}.cursor`, 'object', cursor);
  checkFields(cursor, 'cursor', { batchSize: 'int64' });
  return nonNegative('batchSize', cursor.batchSize);
}
