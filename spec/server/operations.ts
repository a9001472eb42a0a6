/**
 * The operations running on a member, as `currentOp` lists them and
 * `killOp` interrupts them: each command from the moment the dispatcher
 * takes it until it answers, with an opid. An operation that waits (an
 * awaitData getMore) watches its signal and fails with Interrupted (11601)
 * when it is killed, as mongod's does.
 */
import type { Document } from 'bson';
import type { Connection } from './connection';
import { CommandError } from './errors';

export class RunningOperation {
  readonly started = new Date();
  private readonly controller = new AbortController();

  constructor(
    readonly opid: number,
    readonly connection: Connection,
    readonly db: string,
    readonly command: Document,
  ) {}

  /** Aborted when the operation is killed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get killed(): boolean {
    return this.controller.signal.aborted;
  }

  kill(): void {
    this.controller.abort();
  }
}

export class OperationRegistry {
  private readonly running = new Map<number, RunningOperation>();
  private nextOpid = 1;

  start(connection: Connection, db: string, command: Document): RunningOperation {
    const op = new RunningOperation(this.nextOpid++, connection, db, command);
    this.running.set(op.opid, op);
    return op;
  }

  end(op: RunningOperation): void {
    this.running.delete(op.opid);
  }

  get(opid: number): RunningOperation | undefined {
    return this.running.get(opid);
  }

  list(): RunningOperation[] {
    return [...this.running.values()];
  }
}

/** Throws mongod's Interrupted when the operation behind `signal` was killed. */
export function checkInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CommandError('Interrupted', 'operation was interrupted');
}
