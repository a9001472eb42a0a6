/**
 * Read-only views (`create` with `viewOn` and `pipeline`), as mongod keeps
 * them: a catalog entry in the database, resolved at read time into the
 * collection at the bottom of the chain and the pipelines of every view on
 * the way, with the view's default collation. Reads (find, count, distinct,
 * aggregate, `$lookup` from) run that pipeline first; writes, indexes and
 * change streams on a view are CommandNotSupportedOnView (166).
 */
import type { Document } from 'bson';
import { CommandError } from './errors';
import type { Store } from './store';

/** A view as `create` defined it. */
export interface ViewDefinition {
  viewOn: string;
  pipeline: Document[];
  collation?: Document;
}

/** A view resolved down to a collection. */
export interface ResolvedView {
  /** The collection the chain of views reads. */
  coll: string;
  /** The views' pipelines, innermost first. */
  pipeline: Document[];
  /** The view's default collation, if it has one. */
  collation?: Document;
}

/** mongod's `maxViewDepth`. */
const MAX_VIEW_DEPTH = 20;

export function viewDefinition(store: Store, db: string, name: string): ViewDefinition | undefined {
  return store.databases.get(db)?.views.get(name);
}

/** The collection and pipeline a read of `db.name` runs, or undefined when it is not a view. */
export function resolveView(store: Store, db: string, name: string): ResolvedView | undefined {
  const top = viewDefinition(store, db, name);
  if (!top) return undefined;
  const pipelines: Document[][] = [];
  let current: string = name;
  for (let definition = top as ViewDefinition | undefined; definition; definition = viewDefinition(store, db, current)) {
    if (pipelines.length >= MAX_VIEW_DEPTH) {
      throw new CommandError('ViewDepthLimitExceeded', `View depth too deep or view cycle detected; maximum depth is ${MAX_VIEW_DEPTH}`);
    }
    pipelines.unshift(definition.pipeline);
    current = definition.viewOn;
  }
  return { coll: current, pipeline: pipelines.flat(), collation: top.collation };
}

/** Refuses anything but a read on a view. */
export function refuseView(store: Store, db: string, coll: string): void {
  if (viewDefinition(store, db, coll)) {
    throw new CommandError('CommandNotSupportedOnView', `Namespace ${db}.${coll} is a view, not a collection`);
  }
}

/** Refuses a view whose chain leads back to itself. */
export function checkViewCycle(store: Store, db: string, name: string, viewOn: string): void {
  const chain = [name];
  for (let next: string | undefined = viewOn; next !== undefined; next = viewDefinition(store, db, next)?.viewOn) {
    chain.push(next);
    if (next === name) {
      throw new CommandError('GraphContainsCycle', `View cycle detected: [${chain.map((n) => `${db}.${n}`).join(' => ')}]`);
    }
    if (chain.length > MAX_VIEW_DEPTH + 1) break;
  }
}

const WRITING_STAGES = new Set(['$out', '$merge']);

/** Checks a view's definition as `create` and `collMod` do. */
export function checkViewPipeline(pipeline: Document[]): void {
  for (const stage of pipeline) {
    const name = Object.keys(stage)[0];
    if (WRITING_STAGES.has(name)) {
      throw new CommandError('OptionNotSupportedOnView', `${name} cannot be used in a view definition`);
    }
    if (name === '$changeStream') {
      throw new CommandError('OptionNotSupportedOnView', '$changeStream cannot be used in a view definition');
    }
  }
}
