/**
 * What a test backend can do. Specs declare the capabilities they need and
 * skip, with the reason printed, on a backend that lacks one.
 */
export type Capability =
  /** `configureFailPoint` with `failCommand` (mongod started with test commands enabled). */
  | 'failCommand'
  /** The spec may start its own in-process wire replica set and change its membership. */
  | 'topologyControl'
  /** The server keeps a change-stream history small enough for a spec to outrun it. */
  | 'historyControl'
  /** `$currentOp` with `idleCursors: true` lists the server's open cursors (to prove none leaks). */
  | 'idleCursors';

export const CAPABILITY_REASONS: Record<Capability, string> = {
  failCommand: 'needs configureFailPoint (start mongod with --setParameter enableTestCommands=1)',
  topologyControl: 'needs membership control of an in-process wire replica set (wire backend only)',
  historyControl: 'needs a server whose change-stream history a spec can truncate (wire backend only)',
  idleCursors: 'needs $currentOp with idleCursors: true to count open cursors',
};

export type BackendKind = 'uri' | 'memory-server' | 'wire';
export const BACKEND_KINDS: readonly BackendKind[] = ['uri', 'memory-server', 'wire'];
