import type { AbstractCursor } from 'mongodb';
import type { Observable } from 'rxjs';
import type { RxMongoClient } from './client';
import type { RxCollection } from './collection';
import type { RxDatabase } from './database';
import { fromCursor } from '../driver/from-cursor';

/**
 * Cursor Observables.
 *
 * Every cursor-returning member of `RxDatabase` and `RxCollection` (`find`,
 * `aggregate`, `listIndexes`, `listCollections`, `runCursorCommand`, …)
 * returns an `Observable` of documents with these semantics:
 *
 * - cold: each subscriber runs its own query; nothing is sent before subscribe;
 * - lazy: the next batch (`getMore`) is requested only after every document of
 *   the current batch has been emitted — `take(n)` reads no further batch;
 * - released: the cursor is closed on complete, error and unsubscribe, which
 *   kills the server cursor (`killCursors`) unless it was exhausted.
 *
 * Cursor modifiers become options (`sort`, `limit`, `skip`, `projection`,
 * `batchSize`, `hint`, …) or RxJS operators (`map`, `filter`, `take`).
 * {@link fromDriverCursor} covers what neither does.
 *
 * Motor equivalent: `AsyncIOMotorCursor`, `AsyncIOMotorCommandCursor`.
 */

/**
 * A cursor built on a driver object (`collection.driver.find()…`) as a
 * cursor Observable, with the semantics above and the owning client's
 * closed state and scheduler. `open` runs once per subscriber and must
 * return a new cursor each time; `map()` transforms on it are honoured.
 *
 * @example
 * ```ts
 * fromDriverCursor(users, () => users.driver.find().sort({ name: 1 }).map((u) => u.name))
 *   .subscribe(console.log);
 * ```
 */
export function fromDriverCursor<T>(owner: CursorOwner, open: () => AbstractCursor<T>): Observable<T> {
  const context = 'database' in owner ? owner.database.context : owner.context;
  return fromCursor(context, open, { transformed: true });
}

/** The client, database or collection (of any schema) whose client a cursor belongs to. */
export type CursorOwner = RxMongoClient | RxDatabase | Pick<RxCollection, 'database'>;
