/**
 * `configureFailPoint` with the `failCommand` fail point, as mongod has it
 * when started with test commands enabled.
 */
import type { Document } from 'bson';
import { badValue } from './errors';

export interface FailCommandData {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
  appName?: string;
  writeConcernError?: Document;
  failInternalCommands?: boolean;
}

interface Armed {
  data: FailCommandData;
  /** Remaining triggers; Infinity for alwaysOn. */
  times: number;
  skip: number;
}

export class FailPoints {
  private failCommand?: Armed;

  /** Applies a `configureFailPoint` command; returns the reply fields. */
  configure(cmd: Document): Document {
    const name = cmd.configureFailPoint;
    if (name !== 'failCommand') throw badValue(`Unknown fail point: ${String(name)}`);
    const mode = cmd.mode;
    if (mode === 'off') {
      this.failCommand = undefined;
      return { count: 0 };
    }
    const data = (cmd.data ?? {}) as Document;
    if (!Array.isArray(data.failCommands) || data.failCommands.some((c: unknown) => typeof c !== 'string')) {
      throw badValue('failCommand requires data.failCommands, an array of command names');
    }
    let times = Infinity;
    let skip = 0;
    if (mode === 'alwaysOn') {
      times = Infinity;
    } else if (mode && typeof mode === 'object' && typeof (mode as Document).times === 'number') {
      times = (mode as Document).times;
    } else if (mode && typeof mode === 'object' && typeof (mode as Document).skip === 'number') {
      skip = (mode as Document).skip;
    } else {
      throw badValue(`Invalid fail point mode: ${JSON.stringify(mode)}`);
    }
    if (times <= 0) {
      this.failCommand = undefined;
      return { count: 0 };
    }
    this.failCommand = { data: data as FailCommandData, times, skip };
    return { count: 1 };
  }

  /** The fail-point data to apply to this command, consuming one trigger. */
  match(commandName: string, appName: string | undefined): FailCommandData | undefined {
    const armed = this.failCommand;
    if (!armed || !armed.data.failCommands.includes(commandName)) return undefined;
    if (armed.data.appName !== undefined && armed.data.appName !== appName) return undefined;
    if (armed.skip > 0) {
      armed.skip -= 1;
      return undefined;
    }
    armed.times -= 1;
    if (armed.times <= 0) this.failCommand = undefined;
    return armed.data;
  }
}
