import type { ClientSession } from 'mongodb';

/**
 * The key under which an Rx session exposes its driver session, so the
 * driver bridge can unwrap one without knowing the class that carries it.
 * Not exported from the package, yet kept in the declarations (not stripped
 * as internal): {@link SessionCarrier}, and so every `session` option, needs
 * it to stay precise.
 */
export const DRIVER_SESSION: unique symbol = Symbol('rxmongo.driverSession');

/** Anything passed as `session` that stands for a driver session (an `RxClientSession`). */
export interface SessionCarrier {
  /** The driver session it stands for. */
  readonly [DRIVER_SESSION]: ClientSession;
}

/** An options type whose `session` (when it takes a driver `ClientSession`) also accepts an `RxClientSession`. */
export type WithRxSession<P> = P extends { session?: infer S }
  ? 0 extends 1 & S
    ? P
    : [ClientSession] extends [S]
      ? { [K in keyof P]: K extends 'session' ? P[K] | SessionCarrier : P[K] }
      : P
  : P;

function carriedSession(value: unknown): ClientSession | undefined {
  return value !== null && typeof value === 'object' && DRIVER_SESSION in value
    ? (value as SessionCarrier)[DRIVER_SESSION]
    : undefined;
}

/**
 * Copies option objects whose `session` is an `RxClientSession`, swapping in
 * the driver session; `args` itself when none is (most calls: no copy).
 */
export function unwrapSessions(args: readonly unknown[]): readonly unknown[] {
  let copy: unknown[] | undefined;
  for (let at = 0; at < args.length; at++) {
    const arg = args[at];
    if (arg === null || typeof arg !== 'object') continue;
    const session = carriedSession((arg as { session?: unknown }).session);
    if (session === undefined) continue;
    copy ??= [...args];
    copy[at] = { ...arg, session };
  }
  return copy ?? args;
}

/** The arguments with `signal` added to the options object at `index` (combined with the caller's own). */
export function withSignal(args: readonly unknown[], index: number, signal: AbortSignal): unknown[] {
  const copy = [...args];
  while (copy.length <= index) copy.push(undefined);
  const options = (copy[index] ?? {}) as { signal?: AbortSignal };
  copy[index] = { ...options, signal: options.signal ? AbortSignal.any([options.signal, signal]) : signal };
  return copy;
}
