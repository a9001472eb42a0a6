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
 * Another consumer holds the lease on the checkpoint key, and this one was
 * asked not to wait (`checkpoint.lease.wait: false`). By default a second
 * consumer waits as a standby instead (status `standby`) and takes over when
 * the holder's lease ends.
 *
 * Motor/driver counterpart: none.
 */
export class CheckpointInUseError extends RxMongoError {
  override name = 'CheckpointInUseError';

  constructor(
    /** The checkpoint key in use. */
    readonly key: string,
  ) {
    super(`checkpoint ${JSON.stringify(key)} is held by another consumer (lease.wait is false)`);
  }
}

/**
 * A stored checkpoint exists but cannot be read back: a file edited or
 * truncated by hand or holding another key, a record whose token is missing
 * or null. rxmongo's own writes are atomic and never produce one. The stream
 * errors with it instead of starting from "now", which would skip changes.
 *
 * Motor/driver counterpart: none.
 */
export class CheckpointCorruptError extends RxMongoError {
  override name = 'CheckpointCorruptError';

  constructor(
    /** Where the checkpoint is stored (file path, or namespace and key). */
    readonly location: string,
    reason: string,
  ) {
    super(`checkpoint at ${location} is unreadable: ${reason}`);
  }
}

/**
 * The consumer's lease on a checkpoint key is gone: another consumer took
 * the key over (its fence is newer), or the lease expired before it could be
 * renewed. Stores throw it from `save` and `renew` when the fence moved on,
 * so a consumer that was paused (GC, SIGSTOP) can never move the stored
 * position backwards; the stream then stops delivering, reports `leaseLost`
 * and errors with it.
 *
 * Motor/driver counterpart: none.
 */
export class CheckpointLeaseLostError extends RxMongoError {
  override name = 'CheckpointLeaseLostError';

  constructor(
    /** The checkpoint key. */
    readonly key: string,
    /** The fence of the lease that was lost. */
    readonly fence: number,
    reason: string,
  ) {
    super(`lease on checkpoint ${JSON.stringify(key)} (fence ${fence}) is lost: ${reason}`);
  }
}

/**
 * A checkpoint store call (`load`, `acquire`, `renew`, `save`, `release`)
 * did not settle within `checkpoint.timeoutMS`. Treated as transient: the
 * stream retries with its backoff. The call itself may still complete later.
 *
 * Motor/driver counterpart: none.
 */
export class CheckpointTimeoutError extends RxMongoError {
  override name = 'CheckpointTimeoutError';

  constructor(
    /** The store call that timed out. */
    readonly operation: string,
    /** The checkpoint key. */
    readonly key: string,
    /** The limit it exceeded. */
    readonly timeoutMS: number,
  ) {
    super(`checkpoint store ${operation} of ${JSON.stringify(key)} did not finish within ${timeoutMS} ms`);
  }
}
