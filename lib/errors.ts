/**
 * Errors raised by rxmongo itself. Errors from the driver (`MongoError` and
 * its subclasses) pass through unchanged, codes and error labels intact, so
 * `err instanceof RxMongoError` tells the two apart.
 */

/**
 * Base class of every error rxmongo raises itself.
 *
 * Motor/PyMongo equivalent: `pymongo.errors.PyMongoError` (for the errors the
 * client library, not the server, decides on).
 */
export class RxMongoError extends Error {
  override name = 'RxMongoError';
}

/**
 * A database or collection name the server would refuse, detected before
 * anything is sent. Thrown at the call (`client.db('a.b')`).
 *
 * Motor/PyMongo equivalent: `pymongo.errors.InvalidName`.
 */
export class InvalidNameError extends RxMongoError {
  override name = 'InvalidNameError';

  constructor(
    /** The rejected name, as given. */
    readonly invalidName: string,
    reason: string,
  ) {
    super(`invalid name ${JSON.stringify(invalidName)}: ${reason}`);
  }
}

/**
 * The client's configuration cannot satisfy the call, e.g.
 * `getDefaultDatabase()` when the URI names no database and no default is given.
 *
 * Motor/PyMongo equivalent: `pymongo.errors.ConfigurationError`.
 */
export class ConfigurationError extends RxMongoError {
  override name = 'ConfigurationError';
}

/**
 * The operation was started (subscribed, or called for synchronous members
 * such as `db()`) after `close()` on its client.
 *
 * Motor/PyMongo equivalent: `InvalidOperation("Cannot use MongoClient after close")`.
 */
export class ClientClosedError extends RxMongoError {
  override name = 'ClientClosedError';

  constructor() {
    super('the RxMongoClient is closed; create a new client to run more operations');
  }
}

/**
 * The call makes no sense in the client's current state, e.g. reading
 * `address` while the client is load-balancing among mongoses (there is no
 * single address; use `nodes`).
 *
 * Motor/PyMongo equivalent: `pymongo.errors.InvalidOperation`.
 */
export class InvalidOperationError extends RxMongoError {
  override name = 'InvalidOperationError';
}

/**
 * A plain subscriber of an `RxChangeStream` fell more than `bufferSize`
 * events behind the stream. Only that subscriber errors (after the events
 * already queued for it); the others and the server cursor carry on. Nothing
 * is skipped silently: re-subscribe (e.g. `retry()`) to continue from now.
 *
 * Motor/driver counterpart: none; a driver `ChangeStream` has one reader.
 */
export class SubscriberOverflowError extends RxMongoError {
  override name = 'SubscriberOverflowError';

  constructor(
    /** The `bufferSize` that was exceeded. */
    readonly bufferSize: number,
  ) {
    super(`change stream subscriber fell more than ${bufferSize} events behind; it was dropped`);
  }
}

/**
 * A second writer tried to move the same checkpoint of one `RxChangeStream`
 * while another (its shared subscription, or a `consume()`) still does. One
 * checkpoint key has one writer, or positions would be saved that the other
 * writer has not handled.
 *
 * Motor/driver counterpart: none.
 */
export class CheckpointInUseError extends RxMongoError {
  override name = 'CheckpointInUseError';

  constructor(
    /** The checkpoint key in use. */
    readonly key: string,
  ) {
    super(`checkpoint ${JSON.stringify(key)} is already being written by another subscription of this stream`);
  }
}

/**
 * A stored checkpoint cannot be read back (a file edited or truncated by
 * hand, or holding another key). rxmongo's own writes are atomic and never
 * produce one.
 *
 * Motor/driver counterpart: none.
 */
export class CheckpointCorruptError extends RxMongoError {
  override name = 'CheckpointCorruptError';

  constructor(
    /** Where the checkpoint is stored (file path). */
    readonly location: string,
    reason: string,
  ) {
    super(`checkpoint at ${location} is unreadable: ${reason}`);
  }
}

/**
 * A document bigger than the server accepts (its `maxBsonObjectSize`, 16 MiB
 * on every MongoDB server), detected before anything is sent. Errors the
 * operation's Observable; nothing of the operation is written.
 *
 * Motor/PyMongo equivalent: `pymongo.errors.DocumentTooLarge`.
 */
export class DocumentTooLargeError extends RxMongoError {
  override name = 'DocumentTooLargeError';

  constructor(
    /** Which argument, e.g. `insertMany(documents): documents[3]`. */
    readonly argument: string,
    /** Its size in bytes as BSON (with the `_id` the driver adds to an insert). */
    readonly size: number,
    /** The server's limit in bytes. */
    readonly limit: number,
  ) {
    super(`${argument} is ${size} bytes as BSON, over the server's limit of ${limit} bytes (maxBsonObjectSize)`);
  }
}
