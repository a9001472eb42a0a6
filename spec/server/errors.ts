/**
 * Server errors as mongod reports them: `{ ok: 0, errmsg, code, codeName }`,
 * plus error labels where mongod adds them.
 */
import type { Document } from 'bson';
import { isInt32Number } from './numbers';

export const CODES = {
  InternalError: 1,
  ClientMetadataMissingField: 183,
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
  InvalidUUID: 207,
  FailPointSetFailed: 266,
  UnsupportedOpQueryCommand: 352,
  ExceededTimeLimit: 262,
  LockTimeout: 24,
  ConflictingOperationInProgress: 117,
  HostUnreachable: 6,
  HostNotFound: 7,
  UnknownError: 8,
  Overflow: 15,
  ProtocolError: 17,
  InvalidBSON: 22,
  WriteConcernTimeout: 64,
  NetworkTimeout: 89,
  ShutdownInProgress: 91,
  OperationFailed: 96,
  UnsatisfiableWriteConcern: 100,
  DocumentValidationFailure: 121,
  FailedToSatisfyReadPreference: 133,
  ReadConcernMajorityNotAvailableYet: 134,
  StaleEpoch: 150,
  QueryPlanKilled: 175,
  IllegalOpMsgFlag: 223,
  RetryChangeStream: 234,
  CursorKilled: 237,
  Interrupted: 11601,
  AuthenticationFailed: 18,
  UserNotFound: 11,
  RoleNotFound: 31,
  MechanismUnavailable: 334,
  TimeProofMismatch: 204,
  KeyNotFound: 211,
  Location51003: 51003,
  NotSecondary: 95,
  ClientDisconnect: 279,
  ChecksumMismatch: 288,
  SocketException: 9001,
  InterruptedAtShutdown: 11600,
  NotPrimaryOrSecondary: 13436,
  StaleConfig: 13388,
  Location51080: 51080,
  Location10065: 10065,
  Location31368: 31368,
  Location31373: 31373,
  Location31382: 31382,
  Location40571: 40571,
  NoMatchingDocument: 47,
  CappedPositionLost: 136,
  InvalidResumeToken: 260,
  Location40323: 40323,
  Location40415: 40415,
  Location50808: 50808,
  Location40602: 40602,
  Location40647: 40647,
  Location40674: 40674,
  Location50865: 50865,
  Location7182500: 7182500,
  Location7182800: 7182800,
  Location7182802: 7182802,
  // Data and DDL commands (commands/crud.ts, commands/ddl.ts).
  PathNotViable: 28,
  DollarPrefixedFieldName: 52,
  EmptyFieldName: 56,
  NotSingleValueField: 54,
  CannotCreateIndex: 67,
  CommandNotSupported: 115,
  CommandNotSupportedOnView: 166,
  OptionNotSupportedOnView: 167,
  GraphContainsCycle: 5,
  ViewDepthLimitExceeded: 149,
  InvalidIndexSpecificationOption: 197,
  Location13113: 13113,
  Location15956: 15956,
  Location15975: 15975,
  Location31250: 31250,
  Location31254: 31254,
  Location40414: 40414,
  Location40601: 40601,
  Location51024: 51024,
  // Expression errors of the mingo adapter (mingo-adapter.ts).
  SnapshotTooOld: 239,
  SnapshotUnavailable: 246,
  Location16610: 16610,
  Location16611: 16611,
  Location28680: 28680,
  Location16870: 16870,
  Location15983: 15983,
  Location40228: 40228,
  Location17276: 17276,
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
    this.codeName = codeName;
    this.code = CODES[codeName];
    this.labels = options.labels ?? [];
    this.extra = options.extra ?? {};
  }

  /** An error with any numeric code, as fail points inject them; unlisted codes are named `Location<code>`. */
  static withCode(code: number, message: string): CommandError {
    const error = new CommandError('InternalError', message);
    const name = (Object.keys(CODES) as CodeName[]).find((k) => CODES[k] === code);
    Object.assign(error, { code, codeName: name ?? `Location${code}` });
    return error;
  }

  toReply(): Document {
    const reply: Document = { ok: 0, errmsg: this.message, code: this.code };
    if (this.codeName) reply.codeName = this.codeName;
    if (this.labels.length > 0) reply.errorLabels = this.labels;
    return { ...reply, ...this.extra };
  }
}

/** A reply for an arbitrary code, as `failCommand` injects it; mongod names unlisted codes `Location<code>`. */
export function errorReply(code: number, message: string, labels: string[] = []): Document {
  const name = (Object.keys(CODES) as CodeName[]).find((k) => CODES[k] === code);
  const reply: Document = { ok: 0, errmsg: message, code, codeName: name ?? `Location${code}` };
  if (labels.length > 0) reply.errorLabels = labels;
  return reply;
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
  if (typeof value === 'number') return isInt32Number(value) ? 'int' : 'double';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  const bsontype = (value as { _bsontype?: string })._bsontype;
  if (bsontype === 'Code' && (value as { scope?: unknown }).scope) return 'javascriptWithScope';
  if (bsontype) return BSON_TYPE_NAMES[bsontype] ?? bsontype.toLowerCase();
  return 'object';
}

/** mongod's `typeName` for the bson library's classes. */
const BSON_TYPE_NAMES: Record<string, string> = {
  Int32: 'int',
  Long: 'long',
  Double: 'double',
  Decimal128: 'decimal',
  ObjectId: 'objectId',
  Binary: 'binData',
  Timestamp: 'timestamp',
  BSONRegExp: 'regex',
  Code: 'javascript',
  MinKey: 'minKey',
  MaxKey: 'maxKey',
  BSONSymbol: 'symbol',
  DBRef: 'object',
};
