import type {
  Abortable,
  AggregateOptions,
  ChangeStreamDocument,
  Collection,
  CollectionOptions,
  DistinctOptions,
  Document,
  Filter,
  FindOneOptions,
  FindOptions,
  Flatten,
  WithId,
} from 'mongodb';
import { inspect } from 'node:util';
import type { Observable } from 'rxjs';
import type { ChangeStreamSnapshotDocument, RxChangeStream, RxWatchOptions } from '../change-stream';
import { watchOn } from '../change-stream/watch';
import type { RxDatabase } from './database';
import type { ClientContext } from '../driver/context';
import { abortableCall, call, CALL, collectionResult, cursor, CURSOR, installMembers, PROPERTY, type MemberTable, type RxMembers } from './members';
import { ANY, checkArgument, DOCUMENT, DOCUMENTS, FILTER, NAME, PIPELINE, QUERY, REPLACEMENT, UPDATE, WRITE_OPERATIONS } from './arguments';
import {
  ABORTABLE_AGGREGATE_OPTIONS,
  BULK_WRITE_OPTIONS,
  COLLECTION_OPTIONS,
  COMMAND_OPTIONS,
  COUNT_DOCUMENTS_OPTIONS,
  CREATE_INDEXES_OPTIONS,
  DELETE_OPTIONS,
  DISTINCT_OPTIONS,
  DROP_COLLECTION_OPTIONS,
  FIND_ONE_AND_DELETE_OPTIONS,
  FIND_ONE_AND_REPLACE_OPTIONS,
  FIND_ONE_AND_UPDATE_OPTIONS,
  FIND_ONE_OPTIONS,
  FIND_OPTIONS,
  INDEX_INFORMATION_OPTIONS,
  INSERT_ONE_OPTIONS,
  LIST_INDEXES_OPTIONS,
  OPERATION_OPTIONS,
  RENAME_OPTIONS,
  REPLACE_OPTIONS,
  UPDATE_ONE_OPTIONS,
  UPDATE_OPTIONS,
} from './option-names';
import type { WithRxSession } from '../driver/sessions';

/**
 * How `RxCollection` exposes each member of the driver's `Collection`.
 * Motor builds `AsyncIOMotorCollection` from the same kind of table.
 *
 * Not in the table, on purpose: `watch` (change streams, a separate module),
 * `initializeOrderedBulkOp`/`initializeUnorderedBulkOp` (builders whose
 * `execute()` is an eager Promise — use `bulkWrite`, or `collection.driver`),
 * and the deprecated `count` (use `countDocuments`/`estimatedDocumentCount`).
 */
export const COLLECTION_MEMBERS = {
  /** The database's name. Driver `Collection.dbName`. */
  dbName: PROPERTY,
  /** The collection's name. Motor `name`; driver `Collection.collectionName`. */
  collectionName: PROPERTY,
  /** `db.collection`. Motor `full_name`; driver `Collection.namespace`. */
  namespace: PROPERTY,
  /** Motor `read_concern`; driver `Collection.readConcern`. */
  readConcern: PROPERTY,
  /** Motor `read_preference`; driver `Collection.readPreference`. */
  readPreference: PROPERTY,
  /** Motor `codec_options`; driver `Collection.bsonOptions`. */
  bsonOptions: PROPERTY,
  /** Motor `write_concern`; driver `Collection.writeConcern`. */
  writeConcern: PROPERTY,
  /** The default index hint. Driver `Collection.hint`. */
  hint: PROPERTY,
  /** Driver `Collection.timeoutMS`. */
  timeoutMS: PROPERTY,

  /** Inserts one document; emits the `InsertOneResult`. Motor `insert_one`. */
  insertOne: call(DOCUMENT, INSERT_ONE_OPTIONS),
  /** Inserts documents; emits the `InsertManyResult`. Motor `insert_many`. */
  insertMany: call(DOCUMENTS, BULK_WRITE_OPTIONS),
  /** Runs a batch of writes on this collection; emits the `BulkWriteResult`. Motor `bulk_write`. */
  bulkWrite: call(WRITE_OPERATIONS, BULK_WRITE_OPTIONS),
  /** Updates one document; emits the `UpdateResult`. Motor `update_one`. */
  updateOne: call(FILTER, UPDATE, UPDATE_ONE_OPTIONS),
  /** Replaces one document; emits the `UpdateResult`. Motor `replace_one`. */
  replaceOne: call(FILTER, REPLACEMENT, REPLACE_OPTIONS),
  /** Updates every match; emits the `UpdateResult`. Motor `update_many`. */
  updateMany: call(FILTER, UPDATE, UPDATE_OPTIONS),
  /** Deletes one document; emits the `DeleteResult`. Motor `delete_one`. */
  deleteOne: call(FILTER, DELETE_OPTIONS),
  /** Deletes every match; emits the `DeleteResult`. Motor `delete_many`. */
  deleteMany: call(FILTER, DELETE_OPTIONS),
  /** Renames the collection; emits the renamed `RxCollection`. Motor `rename`. */
  rename: collectionResult(NAME, RENAME_OPTIONS),
  /** Drops the collection; emits `true`. Motor `drop`. */
  drop: call(DROP_COLLECTION_OPTIONS),
  /** Emits the first match or `null`; cancellable. Motor `find_one`. */
  findOne: abortableCall(QUERY, FIND_ONE_OPTIONS),
  /** Emits every match, fetched batch by batch. Motor `find`. */
  find: cursor(QUERY, FIND_OPTIONS),
  /** Emits the collection's creation options. Motor `options`. */
  options: call(OPERATION_OPTIONS),
  /** Emits whether the collection is capped. Driver `Collection.isCapped`. */
  isCapped: call(OPERATION_OPTIONS),
  /** Creates an index; emits its name. Motor `create_index`. */
  createIndex: CALL,
  /** Creates indexes; emits their names. Motor `create_indexes`. */
  createIndexes: call(ANY, CREATE_INDEXES_OPTIONS),
  /** Drops an index. Motor `drop_index`. */
  dropIndex: call(ANY, COMMAND_OPTIONS),
  /** Drops every index but `_id`'s. Motor `drop_indexes`. */
  dropIndexes: call(COMMAND_OPTIONS),
  /** Emits each index description. Motor `list_indexes`. */
  listIndexes: cursor(LIST_INDEXES_OPTIONS),
  /** Emits whether the named index(es) exist. Driver `Collection.indexExists`. */
  indexExists: call(ANY, LIST_INDEXES_OPTIONS),
  /** Emits the index information. Motor `index_information`. */
  indexInformation: call(INDEX_INFORMATION_OPTIONS),
  /** Emits the count from collection metadata. Motor `estimated_document_count`. */
  estimatedDocumentCount: call(COMMAND_OPTIONS),
  /** Emits the number of matches; cancellable. Motor `count_documents`. */
  countDocuments: abortableCall(QUERY, COUNT_DOCUMENTS_OPTIONS),
  /** Emits the distinct values of a field. Motor `distinct`. */
  distinct: call(ANY, QUERY, DISTINCT_OPTIONS),
  /** Emits the index descriptions as one array. Driver `Collection.indexes`. */
  indexes: call(INDEX_INFORMATION_OPTIONS),
  /** Deletes one document; emits it (or `null`). Motor `find_one_and_delete`. */
  findOneAndDelete: call(FILTER, FIND_ONE_AND_DELETE_OPTIONS),
  /** Replaces one document; emits it (or `null`). Motor `find_one_and_replace`. */
  findOneAndReplace: call(FILTER, REPLACEMENT, FIND_ONE_AND_REPLACE_OPTIONS),
  /** Updates one document; emits it (or `null`). Motor `find_one_and_update`. */
  findOneAndUpdate: call(FILTER, UPDATE, FIND_ONE_AND_UPDATE_OPTIONS),
  /** Emits the results of a pipeline, batch by batch. Motor `aggregate`. */
  aggregate: cursor(PIPELINE, ABORTABLE_AGGREGATE_OPTIONS),
  /** Emits each Atlas Search index. Motor `list_search_indexes`. */
  listSearchIndexes: CURSOR,
  /** Creates an Atlas Search index; emits its name. Motor `create_search_index`. */
  createSearchIndex: CALL,
  /** Creates Atlas Search indexes; emits their names. Motor `create_search_indexes`. */
  createSearchIndexes: CALL,
  /** Drops an Atlas Search index. Motor `drop_search_index`. */
  dropSearchIndex: CALL,
  /** Updates an Atlas Search index. Motor `update_search_index`. */
  updateSearchIndex: CALL,
} as const satisfies MemberTable<Collection>;

/** Members whose driver signatures take a result type parameter; re-declared below. */
type Generic = 'find' | 'findOne' | 'aggregate' | 'distinct';

/**
 * The driver's `Collection` methods as cold Observables (from
 * `COLLECTION_MEMBERS`): nothing is sent before subscribe, each
 * subscribe runs again, unsubscribe cancels or releases.
 */
export interface RxCollection<TSchema extends Document = Document>
  extends Omit<RxMembers<Collection<TSchema>, typeof COLLECTION_MEMBERS>, Generic> {
  /** Emits every document, fetched batch by batch; unsubscribe kills the server cursor. Motor `find`. */
  find(): Observable<WithId<TSchema>>;
  find(filter: Filter<TSchema>, options?: WithRxSession<FindOptions>): Observable<WithId<TSchema>>;
  find<T extends Document>(filter: Filter<TSchema>, options?: WithRxSession<FindOptions>): Observable<T>;
  /** Emits the first match or `null`; unsubscribe aborts the request. Motor `find_one`. */
  findOne(): Observable<WithId<TSchema> | null>;
  findOne(filter: Filter<TSchema>, options?: WithRxSession<FindOneOptions & Abortable>): Observable<WithId<TSchema> | null>;
  findOne<T>(filter: Filter<TSchema>, options?: WithRxSession<FindOneOptions & Abortable>): Observable<T | null>;
  /** Emits the results of a pipeline, batch by batch. Motor `aggregate`. */
  aggregate<T extends Document = Document>(
    pipeline?: Document[],
    options?: WithRxSession<AggregateOptions>,
  ): Observable<T>;
  /** Emits the distinct values of a field, as one array. Motor `distinct`. */
  distinct<Key extends keyof WithId<TSchema>>(
    key: Key,
    filter?: Filter<TSchema>,
    options?: WithRxSession<DistinctOptions>,
  ): Observable<Flatten<WithId<TSchema>[Key]>[]>;
  distinct(key: string, filter?: Filter<TSchema>, options?: WithRxSession<DistinctOptions>): Observable<unknown[]>;
}

/**
 * A MongoDB collection whose operations are cold Observables.
 *
 * Get one from `db.collection(name)`. Single results (`insertOne`,
 * `findOne`, `countDocuments`, …) are one-value Observables; cursors (`find`,
 * `aggregate`, `listIndexes`, …) are Observables of documents.
 *
 * Motor equivalent: `AsyncIOMotorCollection`; driver: `Collection`.
 *
 * @example
 * ```ts
 * const users = client.db('app').collection<{ name: string }>('users');
 * users.insertOne({ name: 'Ada' }).pipe(
 *   switchMap(() => users.find({ name: /^A/ })),
 * ).subscribe((user) => console.log(user.name));
 * ```
 */
export class RxCollection<TSchema extends Document = Document> {
  /** @internal */
  readonly context: ClientContext;

  /** @internal */
  constructor(
    /** The database this collection belongs to (Motor `database`). */
    readonly database: RxDatabase,
    /** The driver collection (escape hatch for anything not mapped). */
    readonly driver: Collection<TSchema>,
  ) {
    this.context = database.context;
  }

  /** The collection's name. Motor `name`. */
  get name(): string {
    return this.driver.collectionName;
  }

  /** What `util.inspect` shows: the namespace, not the driver objects (they hold the connection string). */
  [inspect.custom](_depth: number, options: object): string {
    return `RxCollection ${inspect(this.toJSON(), options)}`;
  }

  /** What `JSON.stringify` writes. */
  toJSON(): { namespace: string } {
    return { namespace: this.driver.namespace };
  }

  /**
   * This collection with other read preference, read/write concern or BSON
   * options; unspecified options are inherited from this collection.
   * Motor `with_options`. Throws `TypeError` for an unknown option,
   * `ClientClosedError` after `close()`.
   */
  withOptions(options: CollectionOptions): RxCollection<TSchema> {
    this.context.assertOpen();
    checkArgument('withOptions', COLLECTION_OPTIONS, options);
    const inherited: CollectionOptions = {
      ...this.driver.bsonOptions,
      readPreference: this.driver.readPreference,
      readConcern: this.driver.readConcern,
      writeConcern: this.driver.writeConcern,
    };
    return new RxCollection(
      this.database,
      this.database.driver.collection<TSchema>(this.name, { ...inherited, ...options }),
    );
  }

  /**
   * A hot, multicast change stream of this collection (one server cursor for
   * all subscribers), with optional resume-token checkpointing; see
   * {@link RxChangeStream}. Validates at the call (`TypeError`,
   * `RangeError`); throws `ClientClosedError` after `close()`.
   *
   * With `initialSnapshot: true`, the stream first emits the collection's
   * documents as `operationType: 'snapshot'` events (typed
   * {@link ChangeStreamSnapshotDocument}), then the changes after them.
   *
   * Motor `watch` (options in camelCase); driver `Collection.watch`.
   */
  watch<TLocal extends Document = TSchema, TChange extends Document = ChangeStreamDocument<TLocal> | ChangeStreamSnapshotDocument<TLocal>>(
    pipeline: Document[] | undefined,
    options: WithRxSession<RxWatchOptions<TChange>> & { initialSnapshot: true },
  ): RxChangeStream<TLocal, TChange>;
  watch<TLocal extends Document = TSchema, TChange extends Document = ChangeStreamDocument<TLocal>>(
    pipeline?: Document[],
    options?: WithRxSession<RxWatchOptions<TChange>>,
  ): RxChangeStream<TLocal, TChange>;
  watch<TLocal extends Document = TSchema, TChange extends Document = ChangeStreamDocument<TLocal>>(
    pipeline?: Document[],
    options?: WithRxSession<RxWatchOptions<TChange>>,
  ): RxChangeStream<TLocal, TChange> {
    return watchOn<TLocal, TChange>(this.context, this.driver, pipeline, options, { db: this.database.driver, collection: this.name });
  }
}

installMembers<Collection>(RxCollection.prototype, COLLECTION_MEMBERS, (host, collection) =>
  new RxCollection((host as RxCollection).database, collection),
);
