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
import type { Observable } from 'rxjs';
import type { ChangeStreamSnapshotDocument, RxChangeStream, RxWatchOptions } from '../change-stream';
import { watchOn } from '../change-stream/watch';
import type { RxDatabase } from './database';
import type { ClientContext } from '../driver/context';
import {
  abortableCall,
  CALL,
  collectionResult,
  CURSOR,
  installMembers,
  PROPERTY,
  type MemberTable,
  type RxMembers,
} from './members';
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
  insertOne: CALL,
  /** Inserts documents; emits the `InsertManyResult`. Motor `insert_many`. */
  insertMany: CALL,
  /** Runs a batch of writes on this collection; emits the `BulkWriteResult`. Motor `bulk_write`. */
  bulkWrite: CALL,
  /** Updates one document; emits the `UpdateResult`. Motor `update_one`. */
  updateOne: CALL,
  /** Replaces one document; emits the `UpdateResult`. Motor `replace_one`. */
  replaceOne: CALL,
  /** Updates every match; emits the `UpdateResult`. Motor `update_many`. */
  updateMany: CALL,
  /** Deletes one document; emits the `DeleteResult`. Motor `delete_one`. */
  deleteOne: CALL,
  /** Deletes every match; emits the `DeleteResult`. Motor `delete_many`. */
  deleteMany: CALL,
  /** Renames the collection; emits the renamed `RxCollection`. Motor `rename`. */
  rename: collectionResult(0),
  /** Drops the collection; emits `true`. Motor `drop`. */
  drop: CALL,
  /** Emits the first match or `null`; cancellable. Motor `find_one`. */
  findOne: abortableCall(1),
  /** Emits every match, fetched batch by batch. Motor `find`. */
  find: CURSOR,
  /** Emits the collection's creation options. Motor `options`. */
  options: CALL,
  /** Emits whether the collection is capped. Driver `Collection.isCapped`. */
  isCapped: CALL,
  /** Creates an index; emits its name. Motor `create_index`. */
  createIndex: CALL,
  /** Creates indexes; emits their names. Motor `create_indexes`. */
  createIndexes: CALL,
  /** Drops an index. Motor `drop_index`. */
  dropIndex: CALL,
  /** Drops every index but `_id`'s. Motor `drop_indexes`. */
  dropIndexes: CALL,
  /** Emits each index description. Motor `list_indexes`. */
  listIndexes: CURSOR,
  /** Emits whether the named index(es) exist. Driver `Collection.indexExists`. */
  indexExists: CALL,
  /** Emits the index information. Motor `index_information`. */
  indexInformation: CALL,
  /** Emits the count from collection metadata. Motor `estimated_document_count`. */
  estimatedDocumentCount: CALL,
  /** Emits the number of matches; cancellable. Motor `count_documents`. */
  countDocuments: abortableCall(1),
  /** Emits the distinct values of a field. Motor `distinct`. */
  distinct: CALL,
  /** Emits the index descriptions as one array. Driver `Collection.indexes`. */
  indexes: CALL,
  /** Deletes one document; emits it (or `null`). Motor `find_one_and_delete`. */
  findOneAndDelete: CALL,
  /** Replaces one document; emits it (or `null`). Motor `find_one_and_replace`. */
  findOneAndReplace: CALL,
  /** Updates one document; emits it (or `null`). Motor `find_one_and_update`. */
  findOneAndUpdate: CALL,
  /** Emits the results of a pipeline, batch by batch. Motor `aggregate`. */
  aggregate: CURSOR,
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
 * {@link COLLECTION_MEMBERS}): nothing is sent before subscribe, each
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

  /**
   * This collection with other read preference, read/write concern or BSON
   * options; unspecified options are inherited from this collection.
   * Motor `with_options`. Throws `ClientClosedError` after `close()`.
   */
  withOptions(options: CollectionOptions): RxCollection<TSchema> {
    this.context.assertOpen();
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
