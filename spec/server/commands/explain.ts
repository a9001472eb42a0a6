/**
 * `explain` of find, aggregate, count, distinct, update, delete and
 * findAndModify, at the three verbosities: `queryPlanner` (the plan
 * chosen, plan.ts), `executionStats` (that plan run: documents and keys
 * examined, documents returned, time) and `allPlansExecution` (the same,
 * with the other candidate plans' runs, of which there are none here).
 * Nothing is written: an update or delete reports what it would do.
 *
 * An aggregation's leading `$match`, `$sort`, `$skip` and `$limit` go into
 * the query, as mongod pushes them down; the other stages are listed after
 * a `$cursor` stage.
 */
import type { Document } from 'bson';
import { CommandError } from '../errors';
import { plan, type PlanRequest } from '../plan';
import { runPipeline, select, sortSpec, type EvalOptions } from '../query';
import type { CollectionData } from '../store';
import { applyUpdate } from '../update';
import { VERSION } from '../version';
import { resolveView } from '../views';
import { sameValue } from '../values';
import { collectionName, nonNegative, toNumber, truthy } from './args';
import { candidates, documents, evalOptions, readDocuments, updateOptions } from './statements';
import type { CommandContext, CommandSpec } from './types';

type Verbosity = 'queryPlanner' | 'executionStats' | 'allPlansExecution';
const VERBOSITIES = new Set<Verbosity>(['queryPlanner', 'executionStats', 'allPlansExecution']);

/** What an explained command reports besides its plan. */
interface Explained {
  ns: string;
  request: PlanRequest;
  data: CollectionData | undefined;
  /** Wraps the query's plan (COUNT, UPDATE, DELETE, …). */
  wrap?: (tree: Document) => Document;
  /** Runs the command without writing: documents it returns and stats of its top stage. */
  run(): { nReturned: number; top?: Document };
}

function explain(ctx: CommandContext, cmd: Document): Document {
  const inner = cmd.explain;
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
    throw new CommandError('TypeMismatch', "BSON field 'explain.explain' is the wrong type, expected type 'object'");
  }
  const verbosity = (cmd.verbosity ?? 'allPlansExecution') as Verbosity;
  if (!VERBOSITIES.has(verbosity)) {
    throw new CommandError('BadValue', `Enumeration value '${String(verbosity)}' for field 'explain.verbosity' is not a valid value.`);
  }
  const name = Object.keys(inner as Document)[0];
  const command = inner as Document;
  if (name === 'aggregate') return explainAggregate(ctx, command, verbosity);
  const build = EXPLAINABLE[name];
  if (!build) throw new CommandError('IllegalOperation', `Cannot explain cmd: ${name}`);
  const coll = collectionName(command, ctx.db);
  const view = resolveView(ctx.store, ctx.db, coll);
  if (view && (name === 'find' || name === 'count' || name === 'distinct')) {
    // mongod explains a read of a view as the aggregation it runs.
    const filter = (command.filter ?? command.query ?? {}) as Document;
    const pipeline = [
      ...(Object.keys(filter).length > 0 ? [{ $match: filter }] : []),
      ...(command.sort ? [{ $sort: command.sort }] : []),
      ...(command.skip ? [{ $skip: command.skip }] : []),
      ...(command.limit ? [{ $limit: command.limit }] : []),
      ...(command.projection ? [{ $project: command.projection }] : []),
    ];
    return explainAggregate(ctx, { aggregate: coll, pipeline }, verbosity, command);
  }
  return report(ctx, command, verbosity, build(ctx, command, coll));
}

function report(ctx: CommandContext, command: Document, verbosity: Verbosity, explained: Explained): Document {
  const { request, data } = explained;
  const chosen = plan(data, request);
  const winningPlan = explained.wrap ? explained.wrap(chosen.winningPlan) : chosen.winningPlan;
  const reply: Document = {
    explainVersion: '1',
    queryPlanner: queryPlanner(explained.ns, request.filter, winningPlan),
  };
  if (verbosity !== 'queryPlanner') {
    const started = Date.now();
    const { nReturned, top } = explained.run();
    const { docsExamined, keysExamined } = chosen.examine(data ? [...data.docs.values()] : []);
    const matched = data ? select(data.docs.values(), request.filter, request.options).length : 0;
    reply.executionStats = {
      executionSuccess: true,
      nReturned,
      executionTimeMillis: Date.now() - started,
      totalKeysExamined: keysExamined,
      totalDocsExamined: docsExamined,
      executionStages: annotate(winningPlan, { scanned: chosen.scan === 'IXSCAN' ? keysExamined : docsExamined, docsExamined, keysExamined, matched, nReturned, top }),
      ...(verbosity === 'allPlansExecution' ? { allPlansExecution: [] } : {}),
    };
  }
  return { ...reply, command: { ...withoutGeneric(command), $db: ctx.db }, ...serverInfo(ctx) };
}

function queryPlanner(namespace: string, filter: Document, winningPlan: Document): Document {
  return {
    namespace,
    parsedQuery: parsedQuery(filter),
    indexFilterSet: false,
    maxIndexedOrSolutionsReached: false,
    maxIndexedAndSolutionsReached: false,
    maxScansToExplodeReached: false,
    prunedSimilarIndexes: false,
    winningPlan,
    rejectedPlans: [],
  };
}

/** mongod's normalized filter: `{ a: 1 }` is `{ a: { $eq: 1 } }`, several fields an `$and`. */
function parsedQuery(filter: Document): Document {
  const clauses = Object.entries(filter).map(([k, v]) => {
    const operator = v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v)[0]?.startsWith('$') && !(v instanceof Date);
    return { [k]: k.startsWith('$') || operator ? v : { $eq: v } };
  });
  return clauses.length === 0 ? {} : clauses.length === 1 ? clauses[0] : { $and: clauses };
}

interface Counts {
  scanned: number;
  docsExamined: number;
  keysExamined: number;
  matched: number;
  nReturned: number;
  top?: Document;
}

/** The plan tree with each stage's counters, as executionStages shows them. */
function annotate(tree: Document, counts: Counts, depth = 0): Document {
  const { inputStage, ...stage } = tree;
  const returned: Record<string, number> = {
    COLLSCAN: counts.matched, IXSCAN: counts.scanned, FETCH: counts.matched, SORT: counts.matched,
    SKIP: Math.max(0, counts.matched - Number(stage.skipAmount ?? 0)),
  };
  const nReturned = depth === 0 ? counts.nReturned : returned[stage.stage as string] ?? counts.nReturned;
  const out: Document = {
    ...stage,
    nReturned,
    executionTimeMillisEstimate: 0,
    works: counts.scanned + 1,
    advanced: nReturned,
    needTime: Math.max(0, counts.scanned - nReturned),
    needYield: 0,
    saveState: 0,
    restoreState: 0,
    isEOF: 1,
    ...(stage.stage === 'COLLSCAN' ? { docsExamined: counts.docsExamined } : {}),
    ...(stage.stage === 'FETCH' ? { docsExamined: counts.docsExamined, alreadyHasObj: 0 } : {}),
    ...(stage.stage === 'IXSCAN' ? { keysExamined: counts.keysExamined, seeks: 1, dupsTested: 0, dupsDropped: 0 } : {}),
    ...(depth === 0 ? counts.top ?? {} : {}),
  };
  if (inputStage) out.inputStage = annotate(inputStage as Document, counts, depth + 1);
  return out;
}

function serverInfo(ctx: CommandContext): Document {
  const [host, port] = ctx.member.address.split(':');
  return {
    serverInfo: { host, port: Number(port), version: VERSION, gitVersion: 'rxmongo-wire-test-server' },
    serverParameters: {
      internalQueryFacetBufferSizeBytes: 104_857_600,
      internalQueryFacetMaxOutputDocSizeBytes: 104_857_600,
      internalLookupStageIntermediateDocumentMaxSizeBytes: 104_857_600,
      internalDocumentSourceGroupMaxMemoryBytes: 104_857_600,
      internalQueryMaxBlockingSortMemoryUsageBytes: ctx.member.parameters.number('internalQueryMaxBlockingSortMemoryUsageBytes'),
      internalQueryProhibitBlockingMergeOnMongoS: 0,
      internalQueryMaxAddToSetBytes: 104_857_600,
      internalDocumentSourceSetWindowFieldsMaxMemoryBytes: 104_857_600,
      internalQueryFrameworkControl: 'trySbeRestricted',
    },
  };
}

const GENERIC = new Set(['lsid', '$clusterTime', '$readPreference', 'txnNumber', '$db']);

function withoutGeneric(command: Document): Document {
  return Object.fromEntries(Object.entries(command).filter(([k]) => !GENERIC.has(k)));
}

function namespace(ctx: CommandContext, coll: string): string {
  return `${ctx.db}.${coll}`;
}

// ---------------------------------------------------------------- commands

type Builder = (ctx: CommandContext, cmd: Document, coll: string) => Explained;

const EXPLAINABLE: Record<string, Builder> = {
  find: (ctx, cmd, coll) => {
    const data = ctx.view.collection(ctx.db, coll);
    const request: PlanRequest = {
      filter: (cmd.filter ?? {}) as Document,
      sort: sortSpec(cmd.sort as Document | undefined),
      skip: nonNegative('skip', cmd.skip),
      limit: nonNegative('limit', cmd.limit),
      projection: cmd.projection as Document | undefined,
      hint: cmd.hint,
      options: evalOptions(cmd),
    };
    return {
      ns: namespace(ctx, coll), request, data,
      run: () => ({ nReturned: select(candidates(data, request.filter), request.filter, { ...request.options, ...request }).length }),
    };
  },
  count: (ctx, cmd, coll) => {
    const data = ctx.view.collection(ctx.db, coll);
    const filter = (cmd.query ?? {}) as Document;
    const skip = toNumber(cmd.skip) ?? 0;
    const limit = Math.abs(toNumber(cmd.limit) ?? 0);
    const fast = Object.keys(filter).length === 0 && skip === 0 && limit === 0;
    const counted = () => {
      const n = Math.max(0, select(candidates(data, filter), filter, evalOptions(cmd)).length - skip);
      return limit > 0 ? Math.min(n, limit) : n;
    };
    return {
      ns: namespace(ctx, coll), data,
      request: { filter, hint: cmd.hint, options: evalOptions(cmd) },
      wrap: (tree) => (fast ? { stage: 'RECORD_STORE_FAST_COUNT' } : { stage: 'COUNT', inputStage: tree }),
      run: () => ({ nReturned: 0, top: fast ? { nCounted: counted() } : { nCounted: counted(), nSkipped: skip } }),
    };
  },
  distinct: (ctx, cmd, coll) => {
    const data = ctx.view.collection(ctx.db, coll);
    const filter = (cmd.query ?? {}) as Document;
    return {
      ns: namespace(ctx, coll), data,
      request: { filter, hint: cmd.hint, options: evalOptions(cmd) },
      wrap: (tree) => ({ stage: 'PROJECTION_DEFAULT', transformBy: { _id: 0, [String(cmd.key)]: 1 }, inputStage: tree }),
      run: () => ({ nReturned: select(candidates(data, filter), filter, evalOptions(cmd)).length }),
    };
  },
  update: (ctx, cmd, coll) => {
    const statement = single(cmd.updates, 'update');
    return wouldUpdate(ctx, coll, {
      filter: (statement.q ?? {}) as Document, u: statement.u as Document, multi: truthy(statement.multi), upsert: truthy(statement.upsert),
      arrayFilters: statement.arrayFilters as Document[] | undefined, hint: statement.hint, options: evalOptions(cmd, statement),
    });
  },
  delete: (ctx, cmd, coll) => {
    const statement = single(cmd.deletes, 'delete');
    return wouldDelete(ctx, coll, (statement.q ?? {}) as Document, toNumber(statement.limit) !== 1, statement.hint, evalOptions(cmd, statement));
  },
  findAndModify: (ctx, cmd, coll) => {
    const filter = (cmd.query ?? {}) as Document;
    if (truthy(cmd.remove)) return wouldDelete(ctx, coll, filter, false, cmd.hint, evalOptions(cmd));
    return wouldUpdate(ctx, coll, {
      filter, u: cmd.update as Document, multi: false, upsert: truthy(cmd.upsert), arrayFilters: cmd.arrayFilters as Document[] | undefined,
      hint: cmd.hint, options: evalOptions(cmd), sort: sortSpec(cmd.sort as Document | undefined),
    });
  },
};

function single(statements: unknown, command: string): Document {
  if (!Array.isArray(statements) || statements.length !== 1) {
    throw new CommandError('InvalidLength', `explained ${command} must have exactly one ${command} statement`);
  }
  return statements[0] as Document;
}

interface WouldUpdate {
  filter: Document;
  u: Document | Document[];
  multi: boolean;
  upsert: boolean;
  arrayFilters?: Document[];
  hint?: unknown;
  sort?: Document;
  options: EvalOptions;
}

function wouldUpdate(ctx: CommandContext, coll: string, s: WouldUpdate): Explained {
  const data = ctx.view.collection(ctx.db, coll);
  return {
    ns: namespace(ctx, coll), data,
    request: { filter: s.filter, hint: s.hint, sort: s.sort, limit: s.multi ? undefined : 1, options: s.options },
    wrap: (tree) => ({ stage: 'UPDATE', inputStage: tree }),
    run: () => {
      const matches = select(candidates(data, s.filter), s.filter, { ...s.options, sort: s.sort, limit: s.multi ? 0 : 1 });
      const options = updateOptions(ctx, { ...s, bypass: false });
      const modified = matches.filter((doc) => !sameValue(doc, applyUpdate(doc, s.u, options))).length;
      return { nReturned: 0, top: { nMatched: matches.length, nWouldModify: modified, nWouldUpsert: s.upsert && matches.length === 0 ? 1 : 0 } };
    },
  };
}

function wouldDelete(ctx: CommandContext, coll: string, filter: Document, multi: boolean, hint: unknown, options: EvalOptions): Explained {
  const data = ctx.view.collection(ctx.db, coll);
  return {
    ns: namespace(ctx, coll), data,
    request: { filter, hint, limit: multi ? undefined : 1, options },
    wrap: (tree) => ({ stage: 'DELETE', inputStage: tree }),
    run: () => ({ nReturned: 0, top: { nWouldDelete: select(candidates(data, filter), filter, { ...options, limit: multi ? 0 : 1 }).length } }),
  };
}

// ---------------------------------------------------------------- aggregate

const PUSHED_DOWN = new Set(['$match', '$sort', '$skip', '$limit']);

/** Explains an aggregation; `original` is the command shown when a find on a view was turned into it. */
export function explainAggregate(ctx: CommandContext, cmd: Document, verbosity: Verbosity, original: Document = cmd): Document {
  const coll = collectionName(cmd, ctx.db);
  const view = resolveView(ctx.store, ctx.db, coll);
  const stages = [...(view?.pipeline ?? []), ...((cmd.pipeline ?? []) as Document[])];
  let pushed = 0;
  while (pushed < stages.length && PUSHED_DOWN.has(Object.keys(stages[pushed])[0]) && !(pushed > 0 && Object.keys(stages[pushed])[0] === '$match')) pushed++;
  const head = stages.slice(0, pushed);
  const stage = (name: string) => head.find((s) => name in s)?.[name];
  const base = view?.coll ?? coll;
  const explained: Explained = {
    ns: namespace(ctx, base),
    data: ctx.view.collection(ctx.db, base),
    request: {
      filter: (stage('$match') ?? {}) as Document,
      sort: stage('$sort') as Document | undefined,
      skip: stage('$skip') as number | undefined,
      limit: stage('$limit') as number | undefined,
      hint: cmd.hint,
      options: evalOptions(cmd),
    },
    run: () => ({ nReturned: run(head).length }),
  };
  const options = { ...evalOptions(cmd), collation: (cmd.collation ?? view?.collation) as Document | undefined, collection: (name: string) => readDocuments(ctx, { db: ctx.db, coll: name }) };
  function run(pipeline: Document[]): Document[] {
    return runPipeline(documents(ctx, { db: ctx.db, coll: base }), pipeline, options);
  }
  const cursor = report(ctx, original, verbosity, explained);
  if (pushed === stages.length) return cursor;
  const { command, serverInfo: info, serverParameters, explainVersion, ...planner } = cursor;
  const rest = stages.slice(pushed).map((s, i) => {
    if (verbosity === 'queryPlanner') return s;
    return { ...s, nReturned: run(stages.slice(0, pushed + i + 1)).length, executionTimeMillisEstimate: 0 };
  });
  return { explainVersion, stages: [{ $cursor: planner }, ...rest], command, serverInfo: info, serverParameters };
}

export const EXPLAIN_COMMANDS: CommandSpec[] = [{ name: 'explain', read: true, run: explain }];
