/**
 * `configureFailPoint` as mongod has it when started with test commands
 * enabled, per member (per process, as in mongod), with the modes
 * `alwaysOn`, `off`, `{ times }` and `{ skip }`. The fail points drivers and
 * their tests use:
 *
 * - `failCommand`: fails, blocks or drops the connection of named commands
 *   before they run, or adds a writeConcernError after they ran.
 * - `failGetMoreAfterCursorCheckout`: fails a getMore once its cursor is
 *   checked out (the cursor is then gone), with `errorCode` (default
 *   InternalError); `appName` and `namespace` narrow it as for failCommand.
 * - `onPrimaryTransactionalWrite`: acts on each statement of a retryable
 *   write. `closeConnection` (default true) drops the connection after the
 *   statement is applied, so the driver's retry finds it done;
 *   `failBeforeCommitExceptionCode` fails the statement without applying it.
 */
import type { Document } from 'bson';
import { CODES, CommandError, typeMismatch } from './errors';

export interface FailCommandData {
  failCommands: string[];
  failAllCommands?: boolean;
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
  appName?: string;
  namespace?: string;
  writeConcernError?: Document;
}

/** The fail points this server knows. */
const NAMES = ['failCommand', 'failGetMoreAfterCursorCheckout', 'onPrimaryTransactionalWrite'] as const;
type FailPointName = (typeof NAMES)[number];

interface Armed {
  data: FailCommandData;
  raw: Document;
  /** Remaining activations; Infinity for alwaysOn and skip. */
  times: number;
  skip: number;
}

/** What an activated fail point does to one command. */
export type FailAction = Pick<
  FailCommandData,
  'errorCode' | 'errorLabels' | 'closeConnection' | 'blockConnection' | 'blockTimeMS'
>;

/** What `onPrimaryTransactionalWrite` does to one statement of a retryable write. */
export interface TransactionalWriteAction {
  closeConnection: boolean;
  failBeforeCommitExceptionCode?: number;
}

export class FailPoints {
  private readonly armed = new Map<FailPointName, Armed>();
  /** How often each fail point fired in this process's life: mongod's `count` (never reset). */
  private readonly entered = new Map<FailPointName, number>();

  /** Applies a `configureFailPoint` command; returns the reply fields, as mongod checks and answers it. */
  configure(cmd: Document): Document {
    const name = cmd.configureFailPoint;
    if (typeof name !== 'string') throw typeMismatch('configureFailPoint.configureFailPoint', 'string', name);
    if (!NAMES.includes(name as FailPointName)) throw new CommandError('FailPointSetFailed', `${name} not found`);
    const point = name as FailPointName;
    const count = this.entered.get(point) ?? 0;
    const mode = cmd.mode;
    let times = Infinity;
    let skip = 0;
    if (mode === undefined) {
      throw new CommandError('IllegalOperation', "When setting a failpoint, you must supply a 'mode'");
    } else if (typeof mode === 'string') {
      if (mode === 'off') {
        this.armed.delete(point);
        return { count };
      }
      if (mode !== 'alwaysOn') throw new CommandError('BadValue', `unknown mode: ${mode}`);
    } else if (isObject(mode) && mode.times !== undefined) {
      times = modeCount(mode.times, 'times');
    } else if (isObject(mode) && mode.skip !== undefined) {
      skip = modeCount(mode.skip, 'skip');
    } else if (isObject(mode)) {
      throw new CommandError('BadValue', "'mode' must be one of 'off', 'alwaysOn', '{times:n}', '{skip:n}' or '{activationProbability:p}'");
    } else {
      throw new CommandError('TypeMismatch', "'mode' must be a string or JSON object");
    }
    if (cmd.data !== undefined && !isObject(cmd.data)) {
      throw new CommandError('TypeMismatch', "the 'data' option must be a JSON object");
    }
    const raw = (cmd.data ?? {}) as Document;
    if (times > 0) this.armed.set(point, { data: parseData(raw), raw, times, skip });
    else this.armed.delete(point);
    return { count };
  }

  /**
   * The action for a command about to run, consuming one activation. Like
   * mongod, `configureFailPoint` itself is never failed, and a fail point
   * that only adds a writeConcernError is applied after the command runs
   * ({@link writeConcernError}).
   */
  match(command: Names, appName: string | undefined, ns: string): FailAction | undefined {
    const data = this.matching(command, appName, ns);
    if (!data || !(data.closeConnection || data.blockConnection || data.errorCode !== undefined)) return undefined;
    return this.consume('failCommand') ? data : undefined;
  }

  /** The error code `failGetMoreAfterCursorCheckout` fails this getMore with, if it fires. */
  getMoreAfterCheckout(appName: string | undefined, ns: string): number | undefined {
    const armed = this.armed.get('failGetMoreAfterCursorCheckout');
    if (!armed || !targets(armed.data, appName, ns)) return undefined;
    if (!this.consume('failGetMoreAfterCursorCheckout')) return undefined;
    const code = Number(armed.raw.errorCode);
    return armed.raw.errorCode !== undefined && Number.isFinite(code) ? Math.trunc(code) : CODES.InternalError;
  }

  /** What `onPrimaryTransactionalWrite` does to the next statement of a retryable write, if it fires. */
  transactionalWrite(): TransactionalWriteAction | undefined {
    const armed = this.armed.get('onPrimaryTransactionalWrite');
    if (!armed || !this.consume('onPrimaryTransactionalWrite')) return undefined;
    const code = armed.raw.failBeforeCommitExceptionCode;
    return {
      closeConnection: armed.raw.closeConnection === undefined ? true : armed.raw.closeConnection === true,
      failBeforeCommitExceptionCode: typeof code === 'number' && Number.isFinite(code) ? Math.trunc(code) : undefined,
    };
  }

  /** The writeConcernError to add to the reply of a command that ran, consuming one activation. */
  writeConcernError(command: Names, appName: string | undefined, ns: string): FailCommandData | undefined {
    const data = this.matching(command, appName, ns);
    if (!data?.writeConcernError) return undefined;
    return this.consume('failCommand') ? data : undefined;
  }

  private matching(command: Names, appName: string | undefined, ns: string): FailCommandData | undefined {
    const data = this.armed.get('failCommand')?.data;
    if (!data || command.name === 'configureFailPoint' || !targets(data, appName, ns)) return undefined;
    if (data.failAllCommands) return data;
    return command.names.some((n) => data.failCommands.includes(n)) ? data : undefined;
  }

  private consume(point: FailPointName): boolean {
    const armed = this.armed.get(point)!;
    if (armed.skip > 0) {
      armed.skip -= 1;
      return false;
    }
    armed.times -= 1;
    if (armed.times <= 0) this.armed.delete(point);
    this.entered.set(point, (this.entered.get(point) ?? 0) + 1);
    return true;
  }
}

/** The `appName` and `namespace` a fail point's data narrows it to. */
function targets(data: FailCommandData, appName: string | undefined, ns: string): boolean {
  if (data.appName !== undefined && data.appName !== appName) return false;
  return data.namespace === undefined || data.namespace === ns;
}

/** A command's name and aliases: `failCommands: ['isMaster']` also fails `ismaster`. */
export interface Names {
  name: string;
  names: string[];
}

/** mongod reads the data leniently: a field of the wrong type is as good as absent. */
function parseData(raw: Document | undefined): FailCommandData {
  const data = raw ?? {};
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
  const errorCode = typeof data.errorCode === 'number' && Number.isInteger(data.errorCode) ? data.errorCode : undefined;
  return {
    failCommands: strings(data.failCommands) ?? [],
    failAllCommands: data.failAllCommands !== undefined,
    errorCode,
    errorLabels: strings(data.errorLabels),
    closeConnection: data.closeConnection === true,
    blockConnection: data.blockConnection === true,
    blockTimeMS: data.blockTimeMS as number | undefined,
    appName: typeof data.appName === 'string' ? data.appName : undefined,
    namespace: typeof data.namespace === 'string' ? data.namespace : undefined,
    writeConcernError: isObject(data.writeConcernError) ? data.writeConcernError : undefined,
  };
}

/** How long `blockConnection` holds the command; mongod checks this when the fail point fires. */
export function blockTime(action: FailAction): number {
  const ms = action.blockTimeMS;
  if (typeof ms !== 'number' || !Number.isInteger(ms)) {
    throw new CommandError('InvalidOptions', "must specify 'blockTimeMS' when 'blockConnection' is true");
  }
  if (ms < 0) throw new CommandError('InvalidOptions', "'blockTimeMS' must be non-negative");
  return ms;
}

function modeCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new CommandError('TypeMismatch', `'${field}' option to 'mode' must be an integer`);
  }
  if (value < 0) throw new CommandError('BadValue', `'${field}' option to 'mode' must be positive`);
  return value;
}

function isObject(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
