/**
 * Pipeline updates (`u` as an array of `$set`, `$unset`, `$project`,
 * `$replaceWith`, … stages): the aggregation pipeline run on the one
 * document, as mongod runs it.
 */
import type { Document } from 'bson';
import { runPipeline, type EvalOptions } from '../query';

/** The document `doc` becomes under an update pipeline. */
export function runUpdatePipeline(doc: Document, pipeline: Document[], options: EvalOptions): Document {
  const [after] = runPipeline([doc], pipeline, { ...options, collection: () => [] });
  return after;
}
