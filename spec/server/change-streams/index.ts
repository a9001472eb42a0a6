/**
 * Change streams of the wire test server: `aggregate` hands a pipeline that
 * starts with `$changeStream` to {@link openChangeStream}, which answers
 * with a tailable cursor over the shared store's oplog.
 */
import type { Document } from 'bson';
import type { CommandContext } from '../commands/types';
import { CommandError } from '../errors';
import { runPipeline } from '../query';
import { ChangeStreamSource } from './source';
import { parseStreamSpec } from './spec';

/**
 * Opens a collection, database (`aggregate: 1`) or cluster-wide
 * (`allChangesForCluster` on admin) change stream and returns the
 * aggregate's reply with the first batch and a postBatchResumeToken.
 */
export async function openChangeStream(ctx: CommandContext, cmd: Document): Promise<Document> {
  if (ctx.transaction) {
    throw new CommandError(
      'OperationNotSupportedInTransaction',
      'Operation not permitted in transaction :: caused by :: Aggregation stage $changeStream cannot run within a multi-document transaction.',
    );
  }
  const spec = parseStreamSpec(ctx, cmd);
  if (spec.pipeline.length > 0) checkPipeline(spec.pipeline);
  const source = new ChangeStreamSource(ctx.store, spec);
  const cursor = cmd.cursor as Document | undefined;
  const batchSize = typeof cursor?.batchSize === 'number' ? cursor.batchSize : undefined;
  return ctx.member.cursors.first(spec.cursorNs, source, batchSize, {
    lsid: cmd.lsid as Document | undefined,
    changeStream: true,
    originatingCommand: cmd,
  });
}

/** What a pipeline that cannot even be parsed fails with (mingo only finds out when it runs). */
const PARSE_ERRORS = /^unknown (top level )?operator|^Unrecognized|^Cannot do exclusion and inclusion|^Path collision/;

/**
 * mongod parses the whole pipeline when the stream opens, so an unknown
 * operator fails the aggregate rather than a later getMore. Running it over
 * a sample event finds those; errors that depend on an event's contents
 * are left for the events that cause them.
 */
function checkPipeline(pipeline: Document[]): void {
  const sample = { _id: { _data: '' }, operationType: 'insert', ns: { db: '', coll: '' }, documentKey: { _id: 0 }, fullDocument: { _id: 0 } };
  try {
    runPipeline([sample], pipeline, { collection: () => [] });
  } catch (err) {
    if (err instanceof CommandError && PARSE_ERRORS.test(err.message)) throw err;
  }
}
