import type { ChangeStream, ChangeStreamOptions, Document } from 'mongodb';
import { RxChangeStream, type RxWatchOptions } from './';
import type { ClientContext } from '../driver/context';
import { unwrapSessions, type WithRxSession } from '../driver/sessions';
import type { SnapshotSource } from './snapshot';

/** A driver object with `watch` (MongoClient, Db, Collection). */
interface Watchable {
  watch(pipeline: Document[], options: ChangeStreamOptions): ChangeStream<Document, Document>;
}

/**
 * `watch()` of a client, database or collection: validates at the call,
 * delivers on the client's scheduler unless `options.scheduler` says
 * otherwise (with neither, each batch as it arrives, with no hop), and lets
 * the client's `close()` end the stream first (cursor killed, checkpoint
 * saved). Throws `ClientClosedError` after `close()`.
 */
export function watchOn<TSchema extends Document, TChange extends Document>(
  context: ClientContext,
  target: Watchable,
  pipeline: Document[] | undefined,
  options: WithRxSession<RxWatchOptions<TChange>> | undefined,
  snapshotOf?: SnapshotSource,
): RxChangeStream<TSchema, TChange> {
  context.assertOpen();
  const given: unknown = options ?? {};
  // Anything but an options object goes through as is, for RxChangeStream to reject.
  const merged =
    given !== null && typeof given === 'object' && !Array.isArray(given)
      ? { scheduler: context.scheduler, ...(unwrapSessions([given])[0] as RxWatchOptions<TChange>) }
      : (given as RxWatchOptions<TChange>);
  return new RxChangeStream<TSchema, TChange>(
    (stages, streamOptions) => {
      context.assertOpen();
      return target.watch(stages, streamOptions) as ChangeStream<Document, TChange>;
    },
    pipeline,
    merged,
    context,
    snapshotOf,
  );
}
