import { isObservable, type ObservableInput } from 'rxjs';

/**
 * Whether a handler's result is something to wait for: an Observable (or
 * interop Observable), a Promise-like, an async iterable or a readable
 * stream. Anything else — arrays and strings included — is a plain value.
 *
 * @internal
 */
export function isAsync<R>(output: unknown): output is ObservableInput<R> {
  if (output === null || (typeof output !== 'object' && typeof output !== 'function')) return false;
  const value = output as Record<string | symbol, unknown>;
  return (
    isObservable(output) ||
    typeof value.then === 'function' ||
    typeof value[Symbol.asyncIterator] === 'function' ||
    typeof value[(Symbol as { observable?: symbol }).observable ?? '@@observable'] === 'function' ||
    typeof value.getReader === 'function'
  );
}
