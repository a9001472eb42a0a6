/**
 * Server errors as mongod reports them: `{ ok: 0, errmsg, code, codeName }`,
 * plus error labels where mongod adds them.
 */
import type { Document } from 'bson';

export const CODES = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  Unauthorized: 13,
  TypeMismatch: 14,
  InvalidLength: 16,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  MaxTimeMSExpired: 50,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  NotWritablePrimary: 10107,
  WriteConflict: 112,
  ConflictingUpdateOperators: 40,
  NoSuchTransaction: 251,
  TransactionTooOld: 225,
  TransactionCommitted: 256,
  ChangeStreamFatalError: 280,
  ChangeStreamHistoryLost: 286,
  NotPrimaryNoSecondaryOk: 13435,
  InterruptedDueToReplStateChange: 11602,
  PrimarySteppedDown: 189,
  DuplicateKey: 11000,
  Location40324: 40324,
  Location40573: 40573,
  InvalidPipelineOperator: 168,
  InvalidIdField: 53,
  NoReplicationEnabled: 76,
  NotYetInitialized: 94,
  OperationNotSupportedInTransaction: 263,
  InvalidReplicaSetConfig: 93,
  BSONObjectTooLarge: 10334,
  InvalidUUID: 37,
  Location51080: 51080,
  Location10065: 10065,
} as const;

export type CodeName = keyof typeof CODES;

/** Thrown by command handlers; the dispatcher turns it into an error reply. */
export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  readonly labels: string[];
  readonly extra: Document;

  constructor(codeName: CodeName, message: string, options: { labels?: string[]; extra?: Document } = {}) {
    super(message);
    this.codeName = codeName.startsWith('Location') ? '' : codeName;
    this.code = CODES[codeName];
    this.labels = options.labels ?? [];
    this.extra = options.extra ?? {};
  }

  toReply(): Document {
    const reply: Document = { ok: 0, errmsg: this.message, code: this.code };
    if (this.codeName) reply.codeName = this.codeName;
    if (this.labels.length > 0) reply.errorLabels = this.labels;
    return { ...reply, ...this.extra };
  }
}

/** A reply for an arbitrary code, as `failCommand` injects it. */
export function errorReply(code: number, message: string, labels: string[] = []): Document {
  const name = (Object.keys(CODES) as CodeName[]).find((k) => CODES[k] === code && !k.startsWith('Location'));
  const reply: Document = { ok: 0, errmsg: message, code };
  if (name) reply.codeName = name;
  if (labels.length > 0) reply.errorLabels = labels;
  return reply;
}

export function badValue(message: string): CommandError {
  return new CommandError('BadValue', message);
}

export function typeMismatch(field: string, expected: string, value: unknown): CommandError {
  return new CommandError(
    'TypeMismatch',
    `BSON field '${field}' is the wrong type '${bsonTypeName(value)}', expected type '${expected}'`,
  );
}

export function bsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'double';
  if (value instanceof Date) return 'date';
  const bsontype = (value as { _bsontype?: string })._bsontype;
  if (bsontype) return bsontype === 'Int32' ? 'int' : bsontype === 'Long' ? 'long' : bsontype.toLowerCase();
  return 'object';
}
