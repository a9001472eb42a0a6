import {
  MongoClient,
  MongoError,
  type BSONSerializeOptions,
  type ChangeStreamDocument,
  type ClientBulkWriteModel,
  type ClientBulkWriteOptions,
  type ClientBulkWriteResult,
  type ClientSessionOptions,
  type CommandOperationOptions,
  type DbOptions,
  type Document,
  type ListDatabasesOptions,
  type ListDatabasesResult,
  type MongoClientOptions,
  type ReadConcern,
  type ReadPreference,
  WriteConcern,
} from 'mongodb';
import { inspect } from 'node:util';
import { defer, finalize, map, mergeMap, type Observable, type SchedulerLike } from 'rxjs';
import type { RxChangeStream, RxWatchOptions } from '../change-stream';
import { watchOn } from '../change-stream/watch';
import { RxDatabase } from './database';
import { ConfigurationError } from '../errors';
import { ClientContext } from '../driver/context';
import { Awaitable } from '../driver/awaitable';
import { fromCall, fromSync } from '../driver/from-call';
import { unwrapSessions, type WithRxSession } from '../driver/sessions';
import { describe, validateDatabaseName } from '../driver/names';
import { RxClientSession } from './session';
import { CALLBACK, CLIENT_WRITE_MODELS, checkArgument, options as optionsArg, type OptionsFor } from './arguments';
import {
  CLIENT_BULK_WRITE_OPTIONS,
  CLIENT_SESSION_OPTIONS,
  LIST_DATABASES_OPTIONS,
  SESSION_COMMENT_OPTIONS,
  SESSION_OPTIONS,
} from './option-names';
import { redactConnectionString } from './redact';
import { installTopologyMembers, TopologyState, type TopologyMembers } from '../topology';

/**
 * Options of `new RxMongoClient(uri, options)`: the driver's
 * `MongoClientOptions` plus the Rx ones.
 */
export interface RxMongoClientOptions extends MongoClientOptions {
  /**
   * Where every Observable of this client delivers its notifications
   * (`observeOn`). Unset: wherever the driver's I/O completes. The Rx
   * counterpart of Motor's `io_loop`.
   */
  scheduler?: SchedulerLike;
  /**
   * What unsubscribing does to a call the driver can cancel (`findOne`,
   * `countDocuments`, `command`, `serverInfo`, `listDatabases`,
   * `dropDatabase`) while its result is outstanding:
   *
   * - `'abort'` (default): aborts it through an `AbortSignal`. A request
   *   still waiting for a server or a connection is dropped before it is
   *   sent; one already sent is aborted by the driver closing the
   *   connection it is on, so the server stops the work and the pool opens
   *   a new connection for later calls.
   * - `'ignore'`: the request runs to its end and its result is dropped; no
   *   connection is closed and no signal is handed to the driver. For
   *   quick calls cancelled routinely (a `switchMap` type-ahead), where
   *   reopening connections costs more than letting a request finish.
   *
   * Either way the subscriber gets nothing more, cursors are closed
   * (`killCursors`) and transactions aborted, and a `signal` you pass in
   * a call's options still aborts it.
   */
  onUnsubscribe?: 'abort' | 'ignore';
}

/**
 * Options of `getDatabase`/`getDefaultDatabase`; unset ones are inherited
 * from the client. Motor: `codec_options`, `read_preference`,
 * `write_concern`, `read_concern`.
 */
export interface RxDatabaseOptions {
  /** How BSON is decoded and encoded (Motor `codec_options`). */
  bsonOptions?: BSONSerializeOptions;
  readPreference?: DbOptions['readPreference'];
  writeConcern?: DbOptions['writeConcern'];
  readConcern?: DbOptions['readConcern'];
}
const DATABASE_OPTIONS = optionsArg('bsonOptions', 'readPreference', 'writeConcern', 'readConcern') satisfies OptionsFor<RxDatabaseOptions>;

/** `session` and `comment`, the options of `dropDatabase`, `listDatabaseNames` and `serverInfo`. */
export type SessionCommentOptions = WithRxSession<Pick<CommandOperationOptions, 'session' | 'comment'>>;

/** One database as listed by `listDatabases` (driver `ListDatabasesResult.databases[n]`). */
export type DatabaseInfo = ListDatabasesResult['databases'][number];

/** Motor's topology properties, as getters and read-only subjects (the `TopologyMembers` table type). */
export interface RxMongoClient extends TopologyMembers {}

/**
 * An RxJS client for MongoDB: Motor's `AsyncIOMotorClient` with every
 * coroutine turned into a cold, single-value Observable.
 *
 * Constructing the client sends nothing; it connects on the first
 * subscription that needs the server, or when you call
 * {@link RxMongoClient.connect}. A first connection that fails (no server
 * reachable in time) leaves it usable: the next operation connects afresh.
 * After {@link RxMongoClient.close} every operation errors with
 * `ClientClosedError`.
 *
 * **Cold Observables: every subscribe runs the operation again.** Nothing
 * happens at the call (`users.insertOne(doc)` only describes the insert);
 * each subscriber sends its own command. Subscribing twice to one
 * `insertOne(doc)` inserts twice — and since the driver writes the
 * generated `_id` into `doc` the first time, the second insert fails with a
 * duplicate key error (E11000). Subscribe once (or `share()` the result),
 * or give each insert a fresh document. `connect()` and `close()` are the
 * exceptions: they act at the call (see {@link Awaitable}).
 *
 * The connection string's password never appears in `util.inspect`,
 * `JSON.stringify` or rxmongo's messages (see {@link redactConnectionString}).
 *
 * Motor equivalent: `AsyncIOMotorClient`; driver: `MongoClient`.
 *
 * @example
 * ```ts
 * const client = new RxMongoClient('mongodb://localhost:27017/app');
 * const events = client.getDefaultDatabase().collection('events');
 * const insert$ = events.insertOne({ kind: 'login' }); // nothing sent yet
 * await firstValueFrom(insert$);                        // inserted, _id now set on the document
 * // await firstValueFrom(insert$);                     // would send it again: E11000 duplicate key
 * events.find({ kind: 'login' }).subscribe(console.log);
 * await client.close();
 * ```
 */
export class RxMongoClient {
  /** Default host (Motor `HOST`). */
  static readonly HOST = 'localhost';
  /** Default port (Motor `PORT`). */
  static readonly PORT = 27017;

  static {
    // address, primary, …, topologyDescription and their `$` subjects: one pair per entry of the topology table.
    installTopologyMembers(this.prototype, (client: RxMongoClient) => client.topology);
  }

  /** The driver client (escape hatch for anything not mapped). */
  readonly driver: MongoClient;

  /**
   * State shared with every database, collection and session of this
   * client. Other modules register their teardown with `context.onClose`.
   * @internal
   */
  readonly context: ClientContext;

  /** The database named in the connection string, parsed once; the string itself is not kept. */
  readonly #uriDatabase: string | undefined;
  /** The connection string with its secrets masked, for inspect and toJSON. */
  readonly #redactedUri: string;
  private readonly topology: TopologyState;

  /**
   * @param uri - A MongoDB connection string; default
   *   `mongodb://localhost:27017`. A malformed one throws: the driver's
   *   `MongoParseError` for bad options, `ConfigurationError` for a bad
   *   scheme or host list.
   * @param options - The driver's client options plus `scheduler`.
   */
  constructor(uri?: string, options: RxMongoClientOptions = {}) {
    if (uri !== undefined && typeof uri !== 'string') {
      throw new TypeError(`uri must be a string, got ${describe(uri)}`);
    }
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describe(options)}`);
    }
    const { scheduler, onUnsubscribe = 'abort', ...driverOptions } = options;
    if (scheduler !== undefined && !isScheduler(scheduler)) {
      throw new TypeError(`options.scheduler must be an RxJS SchedulerLike, got ${describe(scheduler)}`);
    }
    if (onUnsubscribe !== 'abort' && onUnsubscribe !== 'ignore') {
      throw new TypeError(`options.onUnsubscribe must be 'abort' or 'ignore', got ${describe(onUnsubscribe)}`);
    }
    const connectionString = uri ?? `mongodb://${RxMongoClient.HOST}:${RxMongoClient.PORT}`;
    this.driver = createDriverClient(connectionString, driverOptions);
    this.#uriDatabase = uriDatabaseName(connectionString);
    this.#redactedUri = redactConnectionString(connectionString);
    this.context = new ClientContext(this.driver, scheduler, onUnsubscribe === 'abort');
    // Listening from construction on sees every SDAM event, whoever connects the driver.
    this.topology = new TopologyState(this.driver, { scheduler });
    this.context.onClose(() => this.topology.complete());
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.context.closed;
  }

  /** Motor `codec_options`; driver `MongoClient.bsonOptions`. */
  get bsonOptions(): BSONSerializeOptions {
    return this.driver.bsonOptions;
  }

  /** Motor `read_preference`; driver `MongoClient.readPreference`. */
  get readPreference(): ReadPreference {
    return this.driver.readPreference;
  }

  /** Motor `read_concern`; driver `MongoClient.readConcern`. */
  get readConcern(): ReadConcern | undefined {
    return this.driver.readConcern;
  }

  /** Motor `write_concern`; driver `MongoClient.writeConcern`. */
  get writeConcern(): WriteConcern | undefined {
    return this.driver.writeConcern;
  }

  /** The parsed client options (Motor `options`; driver `MongoClient.options`). */
  get options(): MongoClient['options'] {
    return this.driver.options;
  }

  /**
   * The named database. Sends nothing. Throws `InvalidNameError` for a name
   * MongoDB refuses (empty, any of `/\. "$*<>:|?` or NUL, over 63 bytes),
   * `TypeError` for a non-string, `ClientClosedError` after `close()`.
   *
   * Motor: `client[name]`, `client.name`.
   */
  db(name: string): RxDatabase {
    return this.getDatabase(name);
  }

  /**
   * The named database with its own options (unset ones inherited from the
   * client); without a name, the database named in the URI. Throws like
   * {@link RxMongoClient.db}, `TypeError` for an unknown option, and
   * `ConfigurationError` when no name is given and the URI names none.
   *
   * Motor: `get_database(name, codec_options, read_preference, write_concern, read_concern)`.
   */
  getDatabase(name?: string, options?: RxDatabaseOptions): RxDatabase {
    this.context.assertOpen();
    const dbOptions = toDbOptions(options);
    if (name === undefined) {
      name = this.#uriDatabase;
      if (name === undefined) throw new ConfigurationError('no database name given and none in the connection string');
    }
    validateDatabaseName(name);
    return new RxDatabase(this, this.driver.db(name, dbOptions));
  }

  /**
   * The database named in the connection string, else `defaultName`, else
   * `ConfigurationError`.
   *
   * Motor: `get_default_database(default, codec_options, read_preference, write_concern, read_concern)`.
   */
  getDefaultDatabase(defaultName?: string, options?: RxDatabaseOptions): RxDatabase {
    this.context.assertOpen();
    const name = this.#uriDatabase ?? defaultName;
    if (name === undefined) {
      throw new ConfigurationError('the connection string names no database and no default was given');
    }
    return this.getDatabase(name, options);
  }

  /**
   * Drops a database, given by name or as an `RxDatabase`. Anything else
   * (or an invalid name) errors through the error channel — `TypeError` /
   * `InvalidNameError` — and nothing is sent.
   *
   * Motor: `drop_database(name_or_database, session, comment)`.
   */
  dropDatabase(nameOrDatabase: string | RxDatabase, options: SessionCommentOptions = {}): Observable<void> {
    return fromCall(this.context, async (signal) => {
      const name = nameOrDatabase instanceof RxDatabase ? nameOrDatabase.name : nameOrDatabase;
      if (typeof name !== 'string') {
        throw new TypeError(`dropDatabase takes a database name or an RxDatabase, got ${describe(name)}`);
      }
      validateDatabaseName(name);
      checkArgument('dropDatabase', SESSION_COMMENT_OPTIONS, options);
      const [{ session, comment }] = unwrapSessions([options]) as [Pick<CommandOperationOptions, 'session' | 'comment'>];
      // The command itself, not Db.dropDatabase: the driver (7.x) drops `comment` from that one.
      const db = this.driver.db(name);
      const command: Document = { dropDatabase: 1 };
      if (comment !== undefined) command.comment = comment;
      if (db.writeConcern) WriteConcern.apply(command, db.writeConcern);
      await db.command(command, { session, signal });
    }, { abortable: true });
  }

  /**
   * Emits the names of all databases, as one array. Motor: `list_database_names(session, comment)`.
   */
  listDatabaseNames(options: SessionCommentOptions = {}): Observable<string[]> {
    checkArgument('listDatabaseNames', SESSION_COMMENT_OPTIONS, options);
    return this.listDatabasesOnce({ ...options, nameOnly: true }).pipe(
      map((result) => result.databases.map((database) => database.name)),
    );
  }

  /**
   * Emits one `DatabaseInfo` per database. Motor: `list_databases(session, comment, **kwargs)`.
   */
  listDatabases(options: WithRxSession<ListDatabasesOptions> = {}): Observable<DatabaseInfo> {
    checkArgument('listDatabases', LIST_DATABASES_OPTIONS, options);
    return this.listDatabasesOnce(options).pipe(mergeMap((result) => result.databases));
  }

  /** Emits the server's `buildInfo` reply. Motor: `server_info(session)`. */
  serverInfo(options: WithRxSession<Pick<CommandOperationOptions, 'session'>> = {}): Observable<Document> {
    checkArgument('serverInfo', SESSION_OPTIONS, options);
    const [driverOptions] = unwrapSessions([options]);
    return fromCall(
      this.context,
      (signal) => this.driver.db('admin').command({ buildInfo: 1 }, { ...(driverOptions as object), signal }),
      { abortable: true },
    );
  }

  /**
   * Emits a new session. Nothing is sent: the server session is acquired by
   * the first operation that uses it. End it with `session.endSession()`, or
   * use {@link RxMongoClient.withSession}, which ends it for you.
   *
   * Motor: `start_session(causal_consistency, default_transaction_options, snapshot)`.
   */
  startSession(options?: ClientSessionOptions): Observable<RxClientSession> {
    checkArgument('startSession', CLIENT_SESSION_OPTIONS, options);
    return fromSync(this.context, () => new RxClientSession(this.driver.startSession(options), this.context));
  }

  /**
   * Starts a session when subscribed, runs `fn(session)` and mirrors its
   * Observable; the session ends when it completes, errors or is
   * unsubscribed (a transaction still running is aborted).
   *
   * Motor: `async with await client.start_session() as s:`; driver `MongoClient.withSession`.
   */
  withSession<T>(fn: (session: RxClientSession) => Observable<T>, options?: ClientSessionOptions): Observable<T> {
    checkArgument('withSession', CALLBACK, fn);
    checkArgument('withSession', CLIENT_SESSION_OPTIONS, options);
    return defer(() => {
      this.context.assertOpen();
      const session = new RxClientSession(this.driver.startSession(options), this.context);
      return defer(() => fn(session)).pipe(
        finalize(() => {
          session.driver.endSession().catch(() => {
            // Ending a session only reports errors of an abort it ran; there is no caller left.
          });
        }),
      );
    });
  }

  /**
   * A hot, multicast change stream of every database in the cluster (one
   * server cursor for all subscribers), with optional resume-token
   * checkpointing; see {@link RxChangeStream}. Validates at the call
   * (`TypeError`, `RangeError`); throws `ClientClosedError` after `close()`.
   * `close()` ends its subscriptions first (cursor killed, checkpoint saved).
   *
   * Motor: `watch(pipeline, full_document, resume_after, …)` with the options
   * in camelCase; driver `MongoClient.watch`.
   */
  watch<TSchema extends Document = Document, TChange extends Document = ChangeStreamDocument<TSchema>>(
    pipeline?: Document[],
    options?: WithRxSession<RxWatchOptions<TChange>>,
  ): RxChangeStream<TSchema, TChange> {
    return watchOn<TSchema, TChange>(this.context, this.driver, pipeline, options);
  }

  /**
   * Runs writes across namespaces in one `bulkWrite` command (MongoDB 8.0+);
   * emits the `ClientBulkWriteResult`. Every update, replace and delete model
   * needs a `filter` (`{}` for every document); a document over the
   * server's size limit errors with `DocumentTooLargeError`, nothing sent.
   *
   * Motor: `bulk_write` (client level); driver `MongoClient.bulkWrite`.
   */
  bulkWrite<SchemaMap extends Record<string, Document> = Record<string, Document>>(
    models: ReadonlyArray<ClientBulkWriteModel<SchemaMap>>,
    options?: WithRxSession<ClientBulkWriteOptions>,
  ): Observable<ClientBulkWriteResult> {
    checkArgument('bulkWrite', CLIENT_WRITE_MODELS, models);
    checkArgument('bulkWrite', CLIENT_BULK_WRITE_OPTIONS, options);
    const [driverOptions] = unwrapSessions([options]);
    return fromCall(this.context, () => {
      CLIENT_WRITE_MODELS.size!(models, 'bulkWrite(models)', this.context.maxBsonObjectSize, { ...this.driver.bsonOptions, ...options });
      return this.driver.bulkWrite(models, driverOptions as ClientBulkWriteOptions | undefined);
    });
  }

  /**
   * Connects now instead of at the first operation: discovers the
   * deployment and selects a server. Acts at the call, like Motor's
   * methods, and returns an {@link Awaitable} of this client — await it, or
   * use it as an Observable (subscribing does not connect again). Fails with
   * the driver's error (e.g. `MongoServerSelectionError`) when no server is
   * reachable in time — the client stays usable and the next operation tries
   * afresh — and with `ClientClosedError` after `close()`.
   *
   * Driver: `MongoClient.connect()`.
   */
  connect(): Awaitable<this> {
    return new Awaitable(this.context.connect().then(() => this), this.context.scheduler);
  }

  /**
   * Closes the client, at the call: runs the teardown other parts of the
   * client registered (topology subjects complete; change streams save
   * their checkpoint and end), then closes the driver client, ending its
   * sessions and killing its cursors. From the call on every operation
   * errors with `ClientClosedError`. Returns an {@link Awaitable}: `await
   * client.close()`, or use it in a pipe; either way it closes once. Closing
   * twice is fine: a second `close()` settles when the first has.
   *
   * Motor: `close()`.
   */
  close(): Awaitable<void> {
    return new Awaitable(this.context.close(), this.context.scheduler);
  }

  /** What `util.inspect` shows: the connection string without its secrets, and the state. */
  [inspect.custom](_depth: number, options: object): string {
    return `RxMongoClient ${inspect(this.toJSON(), options)}`;
  }

  /** What `JSON.stringify` writes: the connection string without its secrets, and the state. */
  toJSON(): { uri: string; closed: boolean } {
    return { uri: this.#redactedUri, closed: this.closed };
  }

  private listDatabasesOnce(options: WithRxSession<ListDatabasesOptions>): Observable<ListDatabasesResult> {
    const [driverOptions] = unwrapSessions([options]);
    return fromCall(
      this.context,
      (signal) => this.driver.db('admin').admin().listDatabases({ ...(driverOptions as ListDatabasesOptions), signal } as ListDatabasesOptions),
      { abortable: true },
    );
  }
}

/**
 * The driver's client; a URI its connection-string parser rejects (bad
 * scheme, no host) surfaces as `ConfigurationError`, because that parser
 * throws its own error class, outside the driver's `MongoError` hierarchy.
 * The driver's own errors pass through.
 */
function createDriverClient(uri: string, options: MongoClientOptions): MongoClient {
  try {
    return new MongoClient(uri, options);
  } catch (err) {
    if (err instanceof MongoError || !(err instanceof Error)) throw err;
    throw new ConfigurationError(`invalid connection string: ${err.message}`, { cause: err });
  }
}

function isScheduler(value: unknown): value is SchedulerLike {
  const candidate = value as Partial<SchedulerLike> | null;
  return typeof candidate?.schedule === 'function' && typeof candidate.now === 'function';
}

function toDbOptions(options: RxDatabaseOptions | undefined): DbOptions | undefined {
  if (options === undefined) return undefined;
  checkArgument('getDatabase', DATABASE_OPTIONS, options);
  const { bsonOptions, ...rest } = options;
  return { ...bsonOptions, ...rest };
}

/**
 * The database named in a connection string's path, if any. Hosts and
 * credentials cannot contain an unescaped `/`, so the path starts at the
 * first `/` after the last `@`.
 */
export function uriDatabaseName(uri: string): string | undefined {
  const afterScheme = uri.slice(uri.indexOf('://') + 3).split('?')[0];
  const slash = afterScheme.indexOf('/', afterScheme.lastIndexOf('@') + 1);
  if (slash < 0) return undefined;
  const name = decodeURIComponent(afterScheme.slice(slash + 1));
  return name === '' ? undefined : name;
}
