/**
 * Checks of option values, each throwing an error that names the option and
 * the value: `TypeError` for a wrong type or an unknown key, `RangeError` for
 * a number out of range (NaN included, and said so).
 *
 * @internal
 */
import { MAX_TIMER_MS } from '../checkpoint/store';
import { describe } from '../driver/names';

/** Throws `TypeError` unless `value` is a plain object (or `undefined`, when allowed). */
export function object(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Throws `TypeError` naming the first key of `value` not in `known`, and the known ones. */
export function knownKeys(name: string, value: object, known: readonly string[], more = ''): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TypeError(`${name} has no option ${JSON.stringify(key)}; known options: ${known.join(', ')}${more}`);
    }
  }
}

/** How a number is shown in a message: NaN and ±Infinity by name. */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : describe(value);
}

function mustBeNumber(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
}

/**
 * A duration in ms, 0 (or `min`) to 2^31 − 1 — the longest delay a timer
 * honours; longer ones would fire after 1 ms — or `Infinity` when allowed.
 */
export function duration(name: string, value: unknown, fallback: number, options: { min?: number; infinity?: boolean } = {}): number {
  if (value === undefined) return fallback;
  mustBeNumber(name, value);
  const min = options.min ?? 0;
  if (value === Infinity && options.infinity === true) return value;
  if (!(value >= min && value <= MAX_TIMER_MS)) {
    throw new RangeError(`${name} must be a duration from ${min} to ${MAX_TIMER_MS} ms${options.infinity === true ? ' or Infinity' : ''}, got ${shown(value)}`);
  }
  return value;
}

/** An integer ≥ `min` (default 1), or `Infinity` when allowed. */
export function integer(name: string, value: unknown, fallback: number, options: { min?: number; infinity?: boolean } = {}): number {
  if (value === undefined) return fallback;
  mustBeNumber(name, value);
  const min = options.min ?? 1;
  if ((value === Infinity && options.infinity === true) || (Number.isInteger(value) && value >= min)) return value;
  throw new RangeError(`${name} must be an integer ≥ ${min}${options.infinity === true ? ' or Infinity' : ''}, got ${shown(value)}`);
}

/** A finite number ≥ `min`, and below `below` when given. */
export function finite(name: string, value: unknown, fallback: number, min: number, below?: number): number {
  if (value === undefined) return fallback;
  mustBeNumber(name, value);
  if (!(value >= min && Number.isFinite(value) && (below === undefined || value < below))) {
    throw new RangeError(`${name} must be a finite number ≥ ${min}${below === undefined ? '' : ` and below ${below}`}, got ${shown(value)}`);
  }
  return value;
}

/** A boolean. */
export function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** One of `allowed` (strings). */
export function oneOf<const V extends string>(name: string, value: unknown, allowed: readonly V[], fallback: V, more = ''): V {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as V;
  const given = typeof value === 'string' ? JSON.stringify(value) : describe(value);
  throw new TypeError(`${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}${more}, got ${given}`);
}
