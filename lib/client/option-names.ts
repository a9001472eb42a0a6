/**
 * The option names of the driver's options types, one list per type, for
 * the unknown-option check of {@link options}. Each list is held by the
 * compiler to exactly the keys of its driver type (`satisfies OptionsFor`),
 * and the member tables again to the type of the argument it checks, so a
 * driver upgrade that adds an option fails the type check until it is
 * listed here — a legitimate option is never refused.
 */
import type * as driver from 'mongodb';
import { options, type OptionsFor } from './arguments';

const BSON = [
  'bsonRegExp',
  'checkKeys',
  'enableUtf8Validation',
  'fieldsAsRaw',
  'ignoreUndefined',
  'promoteBuffers',
  'promoteLongs',
  'promoteValues',
  'raw',
  'serializeFunctions',
  'useBigInt64',
] as const;
/** `OperationOptions`. */
const OPERATION = [...BSON, 'readPreference', 'session', 'timeoutMS', 'willRetryWrite'] as const;
/** `CommandOperationOptions` without `writeConcern` (what reads take). */
const READ_COMMAND = [...OPERATION, 'authdb', 'collation', 'comment', 'dbName', 'explain', 'maxTimeMS', 'readConcern'] as const;
/** `CommandOperationOptions`. */
const COMMAND = [...READ_COMMAND, 'writeConcern'] as const;
/** `AbstractCursorOptions`. */
const CURSOR = [
  ...BSON,
  'awaitData',
  'batchSize',
  'comment',
  'maxAwaitTimeMS',
  'maxTimeMS',
  'noCursorTimeout',
  'readConcern',
  'readPreference',
  'session',
  'tailable',
  'timeoutMS',
  'timeoutMode',
] as const;
const AGGREGATE_OWN = ['allowDiskUse', 'batchSize', 'bypassDocumentValidation', 'cursor', 'hint', 'let', 'maxAwaitTimeMS', 'out'] as const;
const FIND_ONE_OWN = [
  'allowDiskUse',
  'allowPartialResults',
  'awaitData',
  'hint',
  'let',
  'max',
  'maxAwaitTimeMS',
  'min',
  'oplogReplay',
  'projection',
  'returnKey',
  'showRecordId',
  'singleBatch',
  'skip',
  'sort',
  'tailable',
  'timeout',
] as const;
const FIND_ONE_AND_DELETE_OWN = ['hint', 'includeResultMetadata', 'let', 'projection', 'sort'] as const;

export const OPERATION_OPTIONS = options(...OPERATION) satisfies OptionsFor<driver.OperationOptions>;
export const COMMAND_OPTIONS = options(...COMMAND) satisfies OptionsFor<driver.CommandOperationOptions>;
export const INSERT_ONE_OPTIONS = options(...COMMAND, 'bypassDocumentValidation', 'forceServerObjectId') satisfies OptionsFor<driver.InsertOneOptions>;
export const BULK_WRITE_OPTIONS = options(...COMMAND, 'bypassDocumentValidation', 'forceServerObjectId', 'let', 'ordered') satisfies OptionsFor<driver.BulkWriteOptions>;
export const UPDATE_OPTIONS = options(...COMMAND, 'arrayFilters', 'bypassDocumentValidation', 'hint', 'let', 'upsert') satisfies OptionsFor<driver.UpdateOptions>;
/** `updateOne` also takes a `sort`. */
export const UPDATE_ONE_OPTIONS = options(...COMMAND, 'arrayFilters', 'bypassDocumentValidation', 'hint', 'let', 'sort', 'upsert');
export const REPLACE_OPTIONS = options(...COMMAND, 'bypassDocumentValidation', 'hint', 'let', 'sort', 'upsert') satisfies OptionsFor<driver.ReplaceOptions>;
export const DELETE_OPTIONS = options(...COMMAND, 'hint', 'let', 'ordered') satisfies OptionsFor<driver.DeleteOptions>;
export const RENAME_OPTIONS = options(...COMMAND, 'dropTarget', 'new_collection') satisfies OptionsFor<driver.RenameOptions>;
export const DROP_COLLECTION_OPTIONS = options(...COMMAND, 'encryptedFields') satisfies OptionsFor<driver.DropCollectionOptions>;
export const FIND_ONE_OPTIONS = options(...READ_COMMAND, ...FIND_ONE_OWN, 'signal') satisfies OptionsFor<
  Omit<driver.FindOneOptions, 'timeoutMode'> & driver.Abortable
>;
export const FIND_OPTIONS = options(...READ_COMMAND, ...FIND_ONE_OWN, 'batchSize', 'limit', 'noCursorTimeout', 'timeoutMode', 'signal') satisfies OptionsFor<
  driver.FindOptions & driver.Abortable
>;
export const CREATE_INDEXES_OPTIONS = options(
  ...READ_COMMAND,
  '2dsphereIndexVersion',
  'background',
  'bits',
  'bucketSize',
  'commitQuorum',
  'default_language',
  'expireAfterSeconds',
  'hidden',
  'language_override',
  'max',
  'min',
  'name',
  'partialFilterExpression',
  'sparse',
  'storageEngine',
  'textIndexVersion',
  'unique',
  'version',
  'weights',
  'wildcardProjection',
) satisfies OptionsFor<driver.CreateIndexesOptions>;
export const LIST_INDEXES_OPTIONS = options(...CURSOR) satisfies OptionsFor<driver.ListIndexesOptions>;
export const INDEX_INFORMATION_OPTIONS = options(...CURSOR, 'full') satisfies OptionsFor<driver.IndexInformationOptions>;
export const COUNT_DOCUMENTS_OPTIONS = options(...COMMAND, ...AGGREGATE_OWN, 'limit', 'skip', 'signal') satisfies OptionsFor<
  driver.CountDocumentsOptions & driver.Abortable
>;
export const DISTINCT_OPTIONS = options(...COMMAND, 'hint') satisfies OptionsFor<driver.DistinctOptions>;
export const FIND_ONE_AND_DELETE_OPTIONS = options(...COMMAND, ...FIND_ONE_AND_DELETE_OWN) satisfies OptionsFor<driver.FindOneAndDeleteOptions>;
export const FIND_ONE_AND_REPLACE_OPTIONS = options(...COMMAND, ...FIND_ONE_AND_DELETE_OWN, 'bypassDocumentValidation', 'returnDocument', 'upsert') satisfies OptionsFor<
  driver.FindOneAndReplaceOptions
>;
export const FIND_ONE_AND_UPDATE_OPTIONS = options(
  ...COMMAND,
  ...FIND_ONE_AND_DELETE_OWN,
  'arrayFilters',
  'bypassDocumentValidation',
  'returnDocument',
  'upsert',
) satisfies OptionsFor<driver.FindOneAndUpdateOptions>;
export const AGGREGATE_OPTIONS = options(...COMMAND, ...AGGREGATE_OWN) satisfies OptionsFor<driver.AggregateOptions>;
export const ABORTABLE_AGGREGATE_OPTIONS = options(...COMMAND, ...AGGREGATE_OWN, 'signal') satisfies OptionsFor<driver.AggregateOptions & driver.Abortable>;
export const CREATE_COLLECTION_OPTIONS = options(
  ...COMMAND,
  'capped',
  'changeStreamPreAndPostImages',
  'clusteredIndex',
  'encryptedFields',
  'expireAfterSeconds',
  'flags',
  'indexOptionDefaults',
  'max',
  'pipeline',
  'pkFactory',
  'size',
  'storageEngine',
  'timeseries',
  'validationAction',
  'validationLevel',
  'validator',
  'viewOn',
) satisfies OptionsFor<driver.CreateCollectionOptions>;
export const RUN_COMMAND_OPTIONS = options(...BSON, 'readPreference', 'session', 'timeoutMS', 'signal') satisfies OptionsFor<
  driver.RunCommandOptions & driver.Abortable
>;
export const DB_STATS_OPTIONS = options(...COMMAND, 'scale') satisfies OptionsFor<driver.DbStatsOptions>;
export const LIST_COLLECTIONS_OPTIONS = options(...READ_COMMAND, 'authorizedCollections', 'batchSize', 'nameOnly', 'signal') satisfies OptionsFor<
  driver.ListCollectionsOptions
>;
export const RUN_CURSOR_COMMAND_OPTIONS = options(...BSON, 'awaitData', 'readPreference', 'session', 'tailable', 'timeoutMS', 'timeoutMode') satisfies OptionsFor<
  driver.RunCursorCommandOptions
>;
export const LIST_DATABASES_OPTIONS = options(...COMMAND, 'authorizedDatabases', 'filter', 'nameOnly') satisfies OptionsFor<driver.ListDatabasesOptions>;
export const SESSION_COMMENT_OPTIONS = options('session', 'comment') satisfies OptionsFor<Pick<driver.CommandOperationOptions, 'session' | 'comment'>>;
export const SESSION_OPTIONS = options('session') satisfies OptionsFor<Pick<driver.CommandOperationOptions, 'session'>>;
export const CLIENT_SESSION_OPTIONS = options('causalConsistency', 'defaultTimeoutMS', 'defaultTransactionOptions', 'snapshot') satisfies OptionsFor<
  driver.ClientSessionOptions
>;
export const CLIENT_BULK_WRITE_OPTIONS = options(...COMMAND, 'bypassDocumentValidation', 'let', 'ordered', 'verboseResults') satisfies OptionsFor<
  driver.ClientBulkWriteOptions
>;
export const COLLECTION_OPTIONS = options(...BSON, 'readConcern', 'readPreference', 'timeoutMS', 'writeConcern') satisfies OptionsFor<driver.CollectionOptions>;
export const TRANSACTION_OPTIONS = options(
  ...BSON,
  'readPreference',
  'session',
  'willRetryWrite',
  'authdb',
  'collation',
  'comment',
  'dbName',
  'explain',
  'maxTimeMS',
  'readConcern',
  'writeConcern',
  'maxCommitTimeMS',
) satisfies OptionsFor<driver.TransactionOptions>;
export const END_SESSION_OPTIONS = options('force', 'forceClear', 'timeoutMS') satisfies OptionsFor<driver.EndSessionOptions>;
