import type { AbstractCursor } from 'mongodb';
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import type { ClientContext } from './context';

/** Options of {@link fromCursor}. */
export interface FromCursorOptions {
  /** The cursor may carry `map()` transforms: read every document through `next()`. */
  transformed?: boolean;
}

/**
 * Bridge: a driver cursor → a cold Observable of its documents.
 *
 * Each subscriber opens its own cursor (nothing is sent before subscribe).
 * Batches are fetched lazily: the next `getMore` is issued only after every
 * document of the current batch has been emitted (on the client's scheduler
 * when it has one). The cursor is closed — killing the server cursor — on
 * complete, error and unsubscribe; an unsubscribe that lands while a fetch is
 * in flight closes it once that fetch settles, so a cursor id the server is
 * about to return is never leaked.
 *
 * A batch is drained with `readBufferedDocuments`, which bypasses `map()`
 * transforms; pass `transformed: true` for cursors that may carry one, and every
 * document goes through `next()` instead.
 */
export function fromCursor<T>(
  context: ClientContext,
  open: () => AbstractCursor<T>,
  { transformed = false }: FromCursorOptions = {},
): Observable<T> {
  return new Observable<T>((subscriber) => {
    let cursor: AbstractCursor<T>;
    try {
      context.assertOpen();
      cursor = open();
    } catch (err) {
      subscriber.error(err);
      return;
    }
    let fetching = false;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      cursor.close().catch(() => {
        // killCursors failures have no caller left to report to; the server times the cursor out.
      });
    };
    const deliver = delivery(context, subscriber);

    const pump = async (): Promise<void> => {
      try {
        while (!subscriber.closed) {
          fetching = true;
          const first = await cursor.next();
          fetching = false;
          if (subscriber.closed) return;
          if (first === null) {
            await deliver(() => subscriber.complete());
            return;
          }
          const rest = transformed ? [] : cursor.readBufferedDocuments();
          await deliver(() => {
            subscriber.next(first);
            for (const doc of rest) {
              if (subscriber.closed) return;
              subscriber.next(doc);
            }
          });
        }
      } catch (err) {
        fetching = false;
        await deliver(() => subscriber.error(err));
      } finally {
        release();
      }
    };
    void pump();

    return () => {
      if (!fetching) release();
    };
  });
}

/**
 * Runs `emit` now, or as one task on the client's scheduler. The promise
 * settles once it has run or the subscriber has left — never later — which
 * is what holds back the next fetch.
 */
function delivery(context: ClientContext, subscriber: Subscriber<unknown>): (emit: () => void) => Promise<void> {
  const { scheduler } = context;
  if (!scheduler) {
    return async (emit) => emit();
  }
  return (emit) =>
    new Promise<void>((resolve) => {
      let action: Subscription | undefined;
      const cancel = (): void => {
        action?.unsubscribe();
        resolve();
      };
      subscriber.add(cancel);
      action = scheduler.schedule(() => {
        subscriber.remove(cancel);
        emit();
        resolve();
      });
    });
}
