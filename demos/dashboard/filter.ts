/**
 * The feed filter a browser tab asks for in its query string
 * (`/api/events?ns=shop.orders,shop.carts&op=insert,delete`), parsed strictly:
 * anything malformed is a {@link FilterError} the server answers with 400.
 */

/** Change-event operation types a filter may name (the server's `operationType` values). */
const OPERATION_TYPES = [
  'insert',
  'update',
  'replace',
  'delete',
  'drop',
  'rename',
  'dropDatabase',
  'invalidate',
  'create',
  'createIndexes',
  'dropIndexes',
  'modify',
  'shardCollection',
  'refineCollectionShardKey',
  'reshardCollection',
] as const;

/** Which events a tab wants; an empty set means "all". */
export interface FeedFilter {
  /** `db.collection` namespaces, or bare database names matching all their collections. */
  readonly namespaces: ReadonlySet<string>;
  readonly operations: ReadonlySet<string>;
}

/** A query string the dashboard refuses; `message` says what to fix. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

const PARAMS = new Set(['ns', 'op']);
const MAX_ENTRIES = 32;
const DATABASE = /^[^/\\. "$*<>:|?\0]{1,63}$/;
const COLLECTION = /^[^$\0]{1,200}$/;
const KNOWN_OPERATIONS: ReadonlySet<string> = new Set(OPERATION_TYPES);

/** Parses `ns` and `op` (comma-separated, each at most once); throws {@link FilterError}. */
export function parseFilter(query: URLSearchParams): FeedFilter {
  for (const key of new Set(query.keys())) {
    if (!PARAMS.has(key)) throw new FilterError(`unknown query parameter '${key}'; expected ns and/or op`);
    if (query.getAll(key).length > 1) throw new FilterError(`'${key}' given more than once; separate values with commas`);
  }
  const namespaces = list(query.get('ns'), 'ns');
  for (const ns of namespaces) {
    const dot = ns.indexOf('.');
    const db = dot < 0 ? ns : ns.slice(0, dot);
    const collection = dot < 0 ? null : ns.slice(dot + 1);
    if (!DATABASE.test(db) || (collection !== null && !validCollection(collection))) {
      throw new FilterError(`malformed namespace '${ns}'; expected 'database' or 'database.collection'`);
    }
  }
  const operations = list(query.get('op'), 'op');
  for (const op of operations) {
    if (!KNOWN_OPERATIONS.has(op)) {
      throw new FilterError(`unknown operation type '${op}'; expected one of ${OPERATION_TYPES.join(', ')}`);
    }
  }
  return { namespaces: new Set(namespaces), operations: new Set(operations) };
}

/** Whether an event of namespace `ns` and operation `op` passes `filter`. */
export function matches(filter: FeedFilter, ns: string, op: string): boolean {
  if (filter.operations.size > 0 && !filter.operations.has(op)) return false;
  if (filter.namespaces.size === 0 || filter.namespaces.has(ns)) return true;
  const dot = ns.indexOf('.');
  return filter.namespaces.has(dot < 0 ? ns : ns.slice(0, dot));
}

/** The server's rules: no `$` or NUL, no empty segment around a `.`. */
function validCollection(name: string): boolean {
  return COLLECTION.test(name) && !name.startsWith('.') && !name.endsWith('.') && !name.includes('..');
}

function list(value: string | null, key: string): string[] {
  if (value === null) return [];
  const entries = value.split(',');
  if (entries.some((e) => e.length === 0)) throw new FilterError(`'${key}' has an empty entry`);
  if (entries.length > MAX_ENTRIES) throw new FilterError(`'${key}' has more than ${MAX_ENTRIES} entries`);
  return entries;
}
