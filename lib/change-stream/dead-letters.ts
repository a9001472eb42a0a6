import { ObjectId, type ChangeStreamDocument, type ClientSession, type Collection, type Document, type Filter } from 'mongodb';
import { concat, defer, EMPTY, from, ignoreElements, Observable, of, repeat, type ObservableInput, concatMap } from 'rxjs';
import { describe } from '../driver/names';
import { isAsync } from './handler-result';

/**
 * Where parked changes go: a driver `Collection`, or anything holding one as
 * `driver` (an `RxCollection`), of any schema type (the letters' shape is
 * {@link DeadLetter}).
 */
export type DeadLetterTarget = Collection<any> | { readonly driver: Collection<any> };

/** A parked change, as `consume(…, { onHandlerError: 'park', deadLetters })` writes it. */
export interface DeadLetter<TChange extends Document = ChangeStreamDocument> {
  /**
   * The change's own `_id` (its resume token), so a change parked again
   * after a restart replaces its letter instead of adding one; a new
   * `ObjectId` for a change without one (snapshot events, events made by an
   * `onHistoryLost` function).
   */
  _id: unknown;
  /** The change, as the handler got it. */
  event: TChange;
  /** What the handler's last attempt failed with. */
  error: DeadLetterError;
  /** When it was parked (this process's clock). */
  at: Date;
  /** How many times the handler ran for it. */
  attempts: number;
  /** The checkpoint key of the consumer that parked it, when it has one. */
  key?: string;
}

/** A handler's error as a dead letter keeps it. */
export interface DeadLetterError {
  /** `error.name` (`'Error'` for a thrown non-error value). */
  name: string;
  /** `error.message`, or the thrown value as a string. */
  message: string;
  /** `error.code` when there is one (driver errors carry the server's). */
  code?: number | string;
}

/** Options of {@link replay}. */
export interface ReplayOptions<TChange extends Document = ChangeStreamDocument> {
  /** Replays only the letters matching this filter (e.g. `{ key: 'projector' }`). Default: all. */
  filter?: Filter<DeadLetter<TChange>>;
}

/** What {@link replay} calls per parked change; done as in `consume()` (a value at once, a Promise when it settles, an Observable when it completes). */
export type ReplayHandler<TChange extends Document, R> = (change: TChange, letter: DeadLetter<TChange>) => ObservableInput<R> | R | void;

/** Oldest first; `_id` breaks ties so the order is total. */
const REPLAY_ORDER = { at: 1, _id: 1 } as const;

/**
 * Writes (upserts) the dead letter of `change`: inside `session`'s
 * transaction when given, so a transactional consumer parks exactly once.
 *
 * @internal
 */
export async function writeDeadLetter(
  collection: Collection<Document>,
  change: Document,
  error: unknown,
  attempts: number,
  key: string | undefined,
  session?: ClientSession,
): Promise<void> {
  const letter: Omit<DeadLetter<Document>, '_id'> = { event: change, error: describeError(error), at: new Date(), attempts };
  if (key !== undefined) letter.key = key;
  const id: unknown = change._id ?? new ObjectId();
  await collection.replaceOne({ _id: id } as Filter<Document>, letter, session === undefined ? { upsert: true } : { upsert: true, session });
}

function describeError(error: unknown): DeadLetterError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const described: DeadLetterError = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' || typeof code === 'string') described.code = code;
  return described;
}

/**
 * Feeds parked changes back through `handler`, oldest first, one at a
 * time, and deletes each letter once its handler is done; completes when
 * no letter is left. Emits what the handlers emit. A handler error ends it
 * with that error, leaving that letter (and the ones after it) in place.
 *
 * Cold: nothing is read before subscribe; each subscription replays what
 * is parked then. Letters are read one at a time, so memory stays flat
 * however many there are; letters parked while it runs are replayed too.
 *
 * `deadLetters` is checked at the call (`TypeError`).
 *
 * @example Replay what a consumer parked, once the bug is fixed
 * ```ts
 * await lastValueFrom(replay(client.db('shop').collection('orders.dead'), (change) => project(change)), { defaultValue: undefined });
 * ```
 */
export function replay<TChange extends Document = ChangeStreamDocument, R = never>(
  deadLetters: DeadLetterTarget,
  handler: ReplayHandler<TChange, R>,
  options: ReplayOptions<TChange> = {},
): Observable<R> {
  const collection = deadLetterCollection(deadLetters) as unknown as Collection<DeadLetter<TChange>>;
  if (typeof handler !== 'function') throw new TypeError('replay() needs a handler function');
  const filter = (options.filter ?? {}) as Filter<DeadLetter<TChange>>;
  return defer(() => {
    let exhausted = false;
    return defer(() => collection.findOne(filter, { sort: REPLAY_ORDER })).pipe(
      concatMap((found) => {
        if (found === null) {
          exhausted = true;
          return EMPTY;
        }
        const letter = found as DeadLetter<TChange>;
        return concat(outputOf(() => handler(letter.event, letter)), defer(() => collection.deleteOne({ _id: letter._id } as Filter<DeadLetter<TChange>>)).pipe(ignoreElements()));
      }),
      // Next letter after each one; the notifier completing without a value ends the replay.
      repeat({ delay: () => (exhausted ? EMPTY : of(0)) }),
    );
  });
}

/** The driver collection behind a `deadLetters` option; `TypeError` for anything else. @internal */
export function deadLetterCollection(target: unknown, name = 'deadLetters'): Collection<Document> {
  const candidate = target !== null && typeof target === 'object' && 'driver' in target ? (target as { driver: unknown }).driver : target;
  const c = candidate as Partial<Collection> | null | undefined;
  if (c === null || typeof c !== 'object' || typeof c.replaceOne !== 'function' || typeof c.collectionName !== 'string') {
    throw new TypeError(`${name} must be a driver Collection or an RxCollection, got ${describe(target)}`);
  }
  return candidate as Collection<Document>;
}

/** A handler's result as an Observable of what it emits (nothing for `undefined`). */
function outputOf<R>(run: () => ObservableInput<R> | R | void): Observable<R> {
  return defer(() => {
    const output = run();
    if (isAsync<R>(output)) return from(output);
    return output === undefined ? EMPTY : of(output as R);
  });
}
