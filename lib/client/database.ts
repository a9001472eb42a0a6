import type {
  AggregateOptions,
  ChangeStreamDocument,
  CollectionOptions,
  CreateCollectionOptions,
  Db,
  Document,
  RenameOptions,
} from 'mongodb';
import { inspect } from 'node:util';
import type { Observable } from 'rxjs';
import type { RxChangeStream, RxWatchOptions } from '../change-stream';
import { watchOn } from '../change-stream/watch';
import type { RxMongoClient } from './client';
import { RxCollection } from './collection';
import type { ClientContext } from '../driver/context';
import { abortableCall, call, collectionResult, cursor, installMembers, PROPERTY, type MemberTable, type RxMembers } from './members';
import { ANY, checkArgument, COMMAND, NAME, PIPELINE, QUERY } from './arguments';
import {
  AGGREGATE_OPTIONS,
  COLLECTION_OPTIONS,
  COMMAND_OPTIONS,
  CREATE_COLLECTION_OPTIONS,
  CREATE_INDEXES_OPTIONS,
  DB_STATS_OPTIONS,
  DROP_COLLECTION_OPTIONS,
  INDEX_INFORMATION_OPTIONS,
  LIST_COLLECTIONS_OPTIONS,
  RENAME_OPTIONS,
  RUN_COMMAND_OPTIONS,
  RUN_CURSOR_COMMAND_OPTIONS,
} from './option-names';
import type { WithRxSession } from '../driver/sessions';
import { validateCollectionName } from '../driver/names';

/**
 * How `RxDatabase` exposes each member of the driver's `Db`.
 *
 * Not in the table, on purpose: `collection` (re-declared below with name
 * validation), `watch` (change streams, a separate module) and `admin`
 * (the driver's `Admin`; reach it as `db.driver.admin()`).
 */
export const DATABASE_MEMBERS = {
  /** The database's name. Motor `name`; driver `Db.databaseName`. */
  databaseName: PROPERTY,
  /** The options the database was opened with. Driver `Db.options`. */
  options: PROPERTY,
  /** Whether reads may go to secondaries. Driver `Db.secondaryOk`. */
  secondaryOk: PROPERTY,
  /** Motor `read_concern`; driver `Db.readConcern`. */
  readConcern: PROPERTY,
  /** Motor `read_preference`; driver `Db.readPreference`. */
  readPreference: PROPERTY,
  /** Motor `codec_options`; driver `Db.bsonOptions`. */
  bsonOptions: PROPERTY,
  /** Motor `write_concern`; driver `Db.writeConcern`. */
  writeConcern: PROPERTY,
  /** Driver `Db.namespace`. */
  namespace: PROPERTY,
  /** Driver `Db.timeoutMS`. */
  timeoutMS: PROPERTY,

  /** Creates a collection; emits its `RxCollection`. Motor `create_collection`. */
  createCollection: collectionResult(NAME, CREATE_COLLECTION_OPTIONS),
  /** Runs a database command; emits the reply; cancellable. Motor `command`. */
  command: abortableCall(COMMAND, RUN_COMMAND_OPTIONS),
  /** Emits the results of a database-level pipeline (e.g. `$currentOp`), batch by batch. Motor `aggregate`. */
  aggregate: cursor(PIPELINE, AGGREGATE_OPTIONS),
  /** Emits database statistics (`dbStats`). Driver `Db.stats`. */
  stats: call(DB_STATS_OPTIONS),
  /** Emits each collection's description. Motor `list_collections`. */
  listCollections: cursor(QUERY, LIST_COLLECTIONS_OPTIONS),
  /** Renames a collection; emits the renamed `RxCollection`. Driver `Db.renameCollection`. */
  renameCollection: collectionResult(NAME, NAME, RENAME_OPTIONS),
  /** Drops a collection; emits `true`. Motor `drop_collection`. */
  dropCollection: call(NAME, DROP_COLLECTION_OPTIONS),
  /** Drops this database; emits `true`. Driver `Db.dropDatabase` (Motor: `client.drop_database`). */
  dropDatabase: call(COMMAND_OPTIONS),
  /** Emits an `RxCollection` for every collection. Driver `Db.collections`. */
  collections: collectionResult(LIST_COLLECTIONS_OPTIONS),
  /** Creates an index on the named collection; emits its name. Driver `Db.createIndex`. */
  createIndex: call(NAME, ANY, CREATE_INDEXES_OPTIONS),
  /** Removes a user. Driver `Db.removeUser`. */
  removeUser: call(ANY, COMMAND_OPTIONS),
  /** Sets the profiling level; emits it. Driver `Db.setProfilingLevel`. */
  setProfilingLevel: call(ANY, COMMAND_OPTIONS),
  /** Emits the profiling level. Driver `Db.profilingLevel`. */
  profilingLevel: call(COMMAND_OPTIONS),
  /** Emits the named collection's index information. Driver `Db.indexInformation`. */
  indexInformation: call(NAME, INDEX_INFORMATION_OPTIONS),
  /** Runs a cursor-returning command; emits its documents, batch by batch. Motor `cursor_command`. */
  runCursorCommand: cursor(COMMAND, RUN_CURSOR_COMMAND_OPTIONS),
} as const satisfies MemberTable<Db>;

/** Members whose driver signatures take a type parameter; re-declared below. */
type Generic = 'aggregate' | 'createCollection' | 'renameCollection';

/**
 * The driver's `Db` methods as cold Observables (from `DATABASE_MEMBERS`).
 */
export interface RxDatabase extends Omit<RxMembers<Db, typeof DATABASE_MEMBERS>, Generic> {
  /** Emits the results of a database-level pipeline, batch by batch. Motor `aggregate`. */
  aggregate<T extends Document = Document>(pipeline?: Document[], options?: WithRxSession<AggregateOptions>): Observable<T>;
  /** Creates a collection; emits its `RxCollection`. Motor `create_collection`. */
  createCollection<TSchema extends Document = Document>(
    name: string,
    options?: WithRxSession<CreateCollectionOptions>,
  ): Observable<RxCollection<TSchema>>;
  /** Renames a collection; emits the renamed `RxCollection`. Driver `Db.renameCollection`. */
  renameCollection<TSchema extends Document = Document>(
    fromCollection: string,
    toCollection: string,
    options?: WithRxSession<RenameOptions>,
  ): Observable<RxCollection<TSchema>>;
}

/**
 * A MongoDB database whose operations are cold Observables.
 *
 * Get one from `client.db(name)`, `client.getDatabase(...)` or
 * `client.getDefaultDatabase(...)`.
 *
 * Motor equivalent: `AsyncIOMotorDatabase`; driver: `Db`.
 *
 * @example
 * ```ts
 * const db = client.db('app');
 * db.command({ ping: 1 }).subscribe((reply) => console.log(reply.ok));
 * db.listCollections().subscribe((info) => console.log(info.name));
 * ```
 */
export class RxDatabase {
  /** @internal */
  readonly context: ClientContext;

  /** @internal */
  constructor(
    /** The client this database belongs to (Motor `client`). */
    readonly client: RxMongoClient,
    /** The driver database (escape hatch for anything not mapped). */
    readonly driver: Db,
  ) {
    this.context = client.context;
  }

  /** The database's name. Motor `name`. */
  get name(): string {
    return this.driver.databaseName;
  }

  /** What `util.inspect` shows: the name, not the driver objects (they hold the connection string). */
  [inspect.custom](_depth: number, options: object): string {
    return `RxDatabase ${inspect(this.toJSON(), options)}`;
  }

  /** What `JSON.stringify` writes. */
  toJSON(): { name: string } {
    return { name: this.name };
  }

  /**
   * The named collection, with optional read preference, read/write concern
   * or BSON options. Sends nothing. Throws `InvalidNameError` for a name the
   * server would refuse, `TypeError` for a non-string or an unknown option,
   * `ClientClosedError` after `close()`.
   *
   * Motor: `db[name]`, `db.name`, `db.get_collection(name, ...)`; driver `Db.collection`.
   */
  collection<TSchema extends Document = Document>(name: string, options?: CollectionOptions): RxCollection<TSchema> {
    this.context.assertOpen();
    validateCollectionName(name);
    checkArgument('collection', COLLECTION_OPTIONS, options);
    return new RxCollection<TSchema>(this, this.driver.collection<TSchema>(name, options));
  }

  /**
   * A hot, multicast change stream of every collection in this database
   * (one server cursor for all subscribers), with optional resume-token
   * checkpointing; see {@link RxChangeStream}. Validates at the call
   * (`TypeError`, `RangeError`); throws `ClientClosedError` after `close()`.
   *
   * Motor `watch` (options in camelCase); driver `Db.watch`.
   */
  watch<TSchema extends Document = Document, TChange extends Document = ChangeStreamDocument<TSchema>>(
    pipeline?: Document[],
    options?: WithRxSession<RxWatchOptions<TChange>>,
  ): RxChangeStream<TSchema, TChange> {
    return watchOn<TSchema, TChange>(this.context, this.driver, pipeline, options);
  }
}

installMembers<Db>(RxDatabase.prototype, DATABASE_MEMBERS, (host, collection) =>
  new RxCollection(host as RxDatabase, collection),
);
