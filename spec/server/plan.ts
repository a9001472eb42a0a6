/**
 * Query plans as `explain` shows them, in the classic planner's shape:
 * an IXSCAN (under a FETCH) on the index whose first key field the filter
 * constrains (or that provides the sort), else a COLLSCAN, with SORT, SKIP,
 * LIMIT and PROJECTION stages above; and the execution counts of running
 * that plan (documents and index keys examined, documents returned).
 *
 * Simplified: one plan is considered (`rejectedPlans` is empty), bounds are
 * built for the first key field only (the others span MinKey..MaxKey), keys
 * examined count the documents whose first key field matches, and an `_id`
 * point query is an ordinary IXSCAN of `_id_`.
 */
import type { Document } from 'bson';
import { CommandError } from './errors';
import { numKind } from './numbers';
import { compileFilter, type EvalOptions } from './query';
import { getPath, type CollectionData, type IndexSpec } from './store';

/** What a read asks for, as the planner sees it. */
export interface PlanRequest {
  filter: Document;
  sort?: Document;
  skip?: number;
  limit?: number;
  projection?: Document;
  hint?: unknown;
  options: EvalOptions;
}

export interface Plan {
  /** The `winningPlan` tree. */
  winningPlan: Document;
  /** The access stage (COLLSCAN or IXSCAN), which the counts describe. */
  scan: 'COLLSCAN' | 'IXSCAN';
  index?: IndexSpec;
  /** Counts the documents and index keys the scan examines. */
  examine(docs: Document[]): { docsExamined: number; keysExamined: number };
}

const RANGE_OPERATORS = ['$eq', '$gt', '$gte', '$lt', '$lte', '$in'];

/** The top-level (and `$and`) conditions of a filter, by field. */
function conditions(filter: Document): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) for (const clause of value) for (const [k, v] of conditions(clause as Document)) out.set(k, v);
    else if (!key.startsWith('$')) out.set(key, value);
  }
  return out;
}

function isOperatorDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value)[0]?.startsWith('$') === true &&
    Object.getPrototypeOf(value) === Object.prototype;
}

/** Whether an index can answer a condition: equality, ranges and `$in` are, `$ne`, `$regex`, `$exists`… are not. */
function sargable(condition: unknown): boolean {
  if (!isOperatorDocument(condition)) return !(condition instanceof RegExp);
  return Object.keys(condition).every((op) => RANGE_OPERATORS.includes(op));
}

function equality(condition: unknown): boolean {
  return !isOperatorDocument(condition) || Object.keys(condition).every((op) => op === '$eq' || op === '$in');
}

/** Chooses the access path and builds the plan tree. */
export function plan(data: CollectionData | undefined, request: PlanRequest): Plan {
  const byField = conditions(request.filter);
  const indexes = data?.indexes ?? [];
  let index: IndexSpec | undefined;
  let direction = 1;
  const hint = request.hint;
  if (hint !== undefined && hint !== null) {
    if (typeof hint === 'object' && '$natural' in (hint as Document)) direction = Number((hint as Document).$natural) < 0 ? -1 : 1;
    else index = indexes.find((i) => (typeof hint === 'string' ? i.name === hint : JSON.stringify(i.key) === JSON.stringify(hint)));
  } else {
    const usable = indexes.filter((i) => sargable(byField.get(Object.keys(i.key)[0])) && byField.has(Object.keys(i.key)[0]));
    index = usable.find((i) => equality(byField.get(Object.keys(i.key)[0]))) ?? usable[0];
    const sortField = request.sort ? Object.keys(request.sort)[0] : undefined;
    if (!index && sortField && sortField !== '$natural') index = indexes.find((i) => Object.keys(i.key)[0] === sortField);
  }
  const residual = index ? withoutField(request.filter, Object.keys(index.key)[0]) : request.filter;
  let tree: Document = index
    ? { stage: 'FETCH', ...(Object.keys(residual).length > 0 ? { filter: residual } : {}), inputStage: ixscan(data!, index, byField, sortDirection(index, request.sort)) }
    : { stage: 'COLLSCAN', ...(Object.keys(request.filter).length > 0 ? { filter: request.filter } : {}), direction: direction < 0 ? 'backward' : 'forward' };
  const providesSort = index !== undefined && request.sort !== undefined && Object.keys(request.sort)[0] === Object.keys(index.key)[0];
  const sort = request.sort && Object.keys(request.sort).length > 0 && !('$natural' in request.sort) ? request.sort : undefined;
  if (sort && !providesSort) {
    tree = { stage: 'SORT', sortPattern: sort, memLimit: 104_857_600, ...(request.limit ? { limitAmount: request.limit + (request.skip ?? 0) } : {}), type: 'simple', inputStage: tree };
  }
  if (request.skip) tree = { stage: 'SKIP', skipAmount: request.skip, inputStage: tree };
  if (request.limit && !(sort && !providesSort)) tree = { stage: 'LIMIT', limitAmount: request.limit, inputStage: tree };
  if (request.projection && Object.keys(request.projection).length > 0) {
    const simple = Object.values(request.projection).every((v) => v === 0 || v === 1 || v === true || v === false);
    tree = { stage: simple ? 'PROJECTION_SIMPLE' : 'PROJECTION_DEFAULT', transformBy: request.projection, inputStage: tree };
  }
  const scanIndex = index;
  return {
    winningPlan: tree,
    scan: scanIndex ? 'IXSCAN' : 'COLLSCAN',
    index: scanIndex,
    examine(docs) {
      if (!scanIndex) return { docsExamined: docs.length, keysExamined: 0 };
      const field = Object.keys(scanIndex.key)[0];
      const condition = byField.get(field);
      if (condition === undefined) return { docsExamined: docs.length, keysExamined: docs.length };
      const matches = compileFilter({ [field]: condition }, request.options);
      const n = docs.filter(matches).length;
      return { docsExamined: n, keysExamined: n };
    },
  };
}

function withoutField(filter: Document, field: string): Document {
  const { [field]: _removed, ...rest } = filter;
  return rest;
}

function sortDirection(index: IndexSpec, sort: Document | undefined): number {
  const first = Object.keys(index.key)[0];
  if (!sort || Object.keys(sort)[0] !== first) return 1;
  return Number(sort[first]) * Number(index.key[first]) < 0 ? -1 : 1;
}

function ixscan(data: CollectionData, index: IndexSpec, byField: Map<string, unknown>, direction: number): Document {
  const fields = Object.keys(index.key);
  const multiKey = fields.some((f) => [...data.docs.values()].some((d) => Array.isArray(getPath(d, f))));
  return {
    stage: 'IXSCAN',
    keyPattern: index.key,
    indexName: index.name,
    isMultiKey: multiKey,
    multiKeyPaths: Object.fromEntries(fields.map((f) => [f, multiKey && [...data.docs.values()].some((d) => Array.isArray(getPath(d, f))) ? [f] : []])),
    isUnique: index.unique === true || index.name === '_id_',
    isSparse: index.sparse === true,
    isPartial: index.partialFilterExpression !== undefined,
    indexVersion: 2,
    direction: direction < 0 ? 'backward' : 'forward',
    indexBounds: Object.fromEntries(fields.map((f, i) => [f, i === 0 ? bounds(byField.get(f)) : ['[MinKey, MaxKey]']])),
  };
}

/** mongod's bound strings for a condition on the first key field. */
function bounds(condition: unknown): string[] {
  if (condition === undefined) return ['[MinKey, MaxKey]'];
  if (!isOperatorDocument(condition)) return [`[${show(condition)}, ${show(condition)}]`];
  if ('$in' in condition) {
    const values = condition.$in;
    if (!Array.isArray(values)) throw new CommandError('BadValue', '$in needs an array');
    return values.map((v) => `[${show(v)}, ${show(v)}]`);
  }
  if ('$eq' in condition) return [`[${show(condition.$eq)}, ${show(condition.$eq)}]`];
  const low = condition.$gt ?? condition.$gte;
  const high = condition.$lt ?? condition.$lte;
  const numeric = numKind(low ?? high) !== undefined;
  const lowText = low === undefined ? (numeric ? '-inf.0' : typeof high === 'string' ? '""' : 'MinKey') : show(low);
  const highText = high === undefined ? (numeric ? 'inf.0' : typeof low === 'string' ? '{}' : 'MaxKey') : show(high);
  const open = '$gt' in condition ? '(' : '[';
  const close = '$lt' in condition ? ')' : ']';
  return [`${open}${lowText}, ${highText}${close}`];
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (numKind(value)) return String(value);
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value === null) return 'null';
  if ((value as { _bsontype?: string })._bsontype === 'ObjectId') return `ObjectId('${String(value)}')`;
  return JSON.stringify(value);
}
