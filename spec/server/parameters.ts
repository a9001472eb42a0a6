/**
 * Server parameters as `getParameter` and `setParameter` show and change
 * them: mongod's names and defaults for the ones a test or tool is likely
 * to read, which of them may change at runtime, and (for
 * `transactionLifetimeLimitSeconds`) the effect the change has here.
 */
import { Long, type Document } from 'bson';
import { CommandError, bsonTypeName } from './errors';
import { numKind, toJsNumber } from './numbers';
import { FEATURE_COMPATIBILITY_VERSION } from './version';

interface Parameter {
  value: unknown;
  /** May be changed with `setParameter`. */
  runtime: boolean;
}

function defaults(): Map<string, Parameter> {
  const table: Array<[string, unknown, boolean]> = [
    ['authenticationMechanisms', ['SCRAM-SHA-256'], false],
    ['cursorTimeoutMillis', Long.fromNumber(600_000), true],
    ['diagnosticDataCollectionEnabled', false, true],
    ['enableTestCommands', true, false],
    ['featureCompatibilityVersion', { version: FEATURE_COMPATIBILITY_VERSION }, false],
    ['internalQueryMaxBlockingSortMemoryUsageBytes', 104_857_600, true],
    ['localLogicalSessionTimeoutMinutes', 30, false],
    ['logLevel', 0, true],
    ['logicalSessionRefreshMillis', 300_000, false],
    ['maxBSONDepth', 200, false],
    ['maxTransactionLockRequestTimeoutMillis', 5, true],
    ['periodicNoopIntervalSecs', 10, false],
    ['quiet', false, true],
    ['traceExceptions', false, true],
    ['transactionLifetimeLimitSeconds', 60, true],
  ];
  return new Map(table.map(([name, value, runtime]) => [name, { value, runtime }]));
}

/** One member's parameters. */
export class ServerParameters {
  private readonly table = defaults();

  /** A numeric parameter's value. */
  number(name: string): number {
    return toJsNumber(this.table.get(name)!.value);
  }

  /** `getParameter`: `'*'` or `{ allParameters: true }` for all, else the fields named after the first. */
  get(cmd: Document): Document {
    const spec = cmd.getParameter;
    const options = spec !== null && typeof spec === 'object' ? (spec as Document) : {};
    const all = spec === '*' || options.allParameters === true;
    const names = all ? [...this.table.keys()] : Object.keys(cmd).slice(1).filter((k) => !k.startsWith('$') && k !== 'lsid' && k !== 'comment');
    const out: Document = {};
    for (const name of names) {
      const parameter = this.table.get(name);
      if (!parameter) continue;
      out[name] = options.showDetails === true
        ? { value: parameter.value, settableAtRuntime: parameter.runtime, settableAtStartup: true }
        : parameter.value;
    }
    if (Object.keys(out).length === 0) throw new CommandError('InvalidOptions', 'no option found to get');
    return out;
  }

  /** `setParameter`: changes the fields named after the first; answers the previous value as `was`. */
  set(cmd: Document): Document {
    const names = Object.keys(cmd).slice(1).filter((k) => !k.startsWith('$') && k !== 'lsid' && k !== 'comment');
    if (names.length === 0) throw new CommandError('InvalidOptions', 'no option found to set, use help:true to see options ');
    let was: unknown;
    for (const name of names) {
      const parameter = this.table.get(name);
      if (!parameter) throw new CommandError('InvalidOptions', `attempted to set unrecognized parameter [${name}], use help:true to see options `);
      if (!parameter.runtime) throw new CommandError('IllegalOperation', `not allowed to change [${name}] at runtime`);
      const value = cmd[name];
      const current = parameter.value;
      if (typeof current === 'boolean' ? typeof value !== 'boolean' && !numKind(value) : (numKind(current) !== undefined) !== (numKind(value) !== undefined)) {
        throw new CommandError('BadValue', `Invalid value for parameter ${name}: ${bsonTypeName(value)} is not accepted`);
      }
      was ??= current;
      parameter.value = typeof current === 'boolean' ? Boolean(toJsNumber(value === true ? 1 : value === false ? 0 : value)) : value;
    }
    return { was };
  }
}
