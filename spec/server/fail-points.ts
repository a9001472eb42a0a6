/**
 * `configureFailPoint` with the `failCommand` fail point, as mongod has it
 * when started with test commands enabled: modes `alwaysOn`, `off`,
 * `{ times }` and `{ skip }`; per member (per process, as in mongod).
 */
import type { Document } from 'bson';
import { CommandError, typeMismatch } from './errors';

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

interface Armed {
  data: FailCommandData;
  /** Remaining activations; Infinity for alwaysOn and skip. */
  times: number;
  skip: number;
}

/** What an activated fail point does to one command. */
export type FailAction = Pick<
  FailCommandData,
  'errorCode' | 'errorLabels' | 'closeConnection' | 'blockConnection' | 'blockTimeMS'
>;

export class FailPoints {
  private failCommand?: Armed;
  /** How often the fail point fired in this process's life: mongod's `count` (never reset). */
  private entered = 0;

  /** Applies a `configureFailPoint` command; returns the reply fields, as mongod checks and answers it. */
  configure(cmd: Document): Document {
    const name = cmd.configureFailPoint;
    if (typeof name !== 'string') throw typeMismatch('configureFailPoint.configureFailPoint', 'string', name);
    if (name !== 'failCommand') throw new CommandError('FailPointSetFailed', `${name} not found`);
    const count = this.entered;
    const mode = cmd.mode;
    let times = Infinity;
    let skip = 0;
    if (mode === undefined) {
      throw new CommandError('IllegalOperation', "When setting a failpoint, you must supply a 'mode'");
    } else if (typeof mode === 'string') {
      if (mode === 'off') {
        this.failCommand = undefined;
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
    this.failCommand = times > 0 ? { data: parseData(cmd.data), times, skip } : undefined;
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
    return this.consume() ? data : undefined;
  }

  /** The writeConcernError to add to the reply of a command that ran, consuming one activation. */
  writeConcernError(command: Names, appName: string | undefined, ns: string): FailCommandData | undefined {
    const data = this.matching(command, appName, ns);
    if (!data?.writeConcernError) return undefined;
    return this.consume() ? data : undefined;
  }

  private matching(command: Names, appName: string | undefined, ns: string): FailCommandData | undefined {
    const data = this.failCommand?.data;
    if (!data || command.name === 'configureFailPoint') return undefined;
    if (data.appName !== undefined && data.appName !== appName) return undefined;
    if (data.namespace !== undefined && data.namespace !== ns) return undefined;
    if (data.failAllCommands) return data;
    return command.names.some((n) => data.failCommands.includes(n)) ? data : undefined;
  }

  private consume(): boolean {
    const armed = this.failCommand!;
    if (armed.skip > 0) {
      armed.skip -= 1;
      return false;
    }
    armed.times -= 1;
    if (armed.times <= 0) this.failCommand = undefined;
    this.entered += 1;
    return true;
  }
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
