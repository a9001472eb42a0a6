/**
 * An RxMongoClient on the run's backend that records the commands it sends
 * (driver command monitoring), so specs can see exactly what reached the
 * server: nothing before subscribe, a `killCursors` on unsubscribe, an
 * `abortTransaction` on unsubscribe, `endSessions` on close.
 */
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, Document } from 'mongodb';
import type { Observable } from 'rxjs';
import { RxMongoClient, type RxMongoClientOptions } from '../../lib/client/client';
import { backend } from '../support/backend';

export interface Monitored {
  client: RxMongoClient;
  /** The client's unique appName, for fail points that must not hit other spec files. */
  appName: string;
  started: CommandStartedEvent[];
  failed: CommandFailedEvent[];
  succeeded: CommandSucceededEvent[];
  /** Names of the commands started so far (connection handshakes excluded by the driver). */
  names(): string[];
  /** Started commands named `name`. */
  commands(name: string): Document[];
  /** Forgets everything recorded so far. */
  reset(): void;
}

let counter = 0;

export function monitoredClient(options: RxMongoClientOptions = {}, uri = backend().uri): Monitored {
  counter += 1;
  const appName = `rxmongo-spec-${process.pid}-${counter}`;
  const client = new RxMongoClient(uri, {
    serverSelectionTimeoutMS: 10_000,
    monitorCommands: true,
    appName,
    ...options,
  });
  const monitored: Monitored = {
    client,
    appName,
    started: [],
    failed: [],
    succeeded: [],
    names: () => monitored.started.map((e) => e.commandName),
    commands: (name) => monitored.started.filter((e) => e.commandName === name).map((e) => e.command),
    reset: () => {
      monitored.started.length = 0;
      monitored.failed.length = 0;
      monitored.succeeded.length = 0;
    },
  };
  client.driver.on('commandStarted', (e) => monitored.started.push(e));
  client.driver.on('commandFailed', (e) => monitored.failed.push(e));
  client.driver.on('commandSucceeded', (e) => monitored.succeeded.push(e));
  return monitored;
}

/** Resolves once `predicate` holds, polling briefly (driver events arrive asynchronously). */
export async function eventually(predicate: () => boolean, what: string, timeoutMS = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Lets pending I/O callbacks and promise continuations run. */
export const settle = (ms = 50) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `failCommand` data, scoped to one monitored client by its appName. */
export interface FailCommand {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
}

/**
 * Arms the `failCommand` fail point for `monitored`'s commands only (its
 * appName), `times` times, then forgets the `configureFailPoint` command in
 * the record.
 */
export async function failCommand(monitored: Monitored, data: FailCommand, times = 1): Promise<void> {
  await monitored.client.driver.db('admin').command({
    configureFailPoint: 'failCommand',
    mode: { times },
    data: { ...data, appName: monitored.appName },
  });
  monitored.reset();
}

/** `uri` with `dbName` as its path (the database `getDefaultDatabase` picks). */
export function withDatabasePath(uri: string, dbName: string): string {
  const query = uri.indexOf('?');
  const beforeQuery = query < 0 ? uri : uri.slice(0, query);
  const hostsStart = beforeQuery.indexOf('://') + 3;
  const pathStart = beforeQuery.indexOf('/', hostsStart);
  const hosts = pathStart < 0 ? beforeQuery : beforeQuery.slice(0, pathStart);
  return `${hosts}/${dbName}${query < 0 ? '' : uri.slice(query)}`;
}

/**
 * Leaves a call in flight: holds `command` at the server for `blockTimeMS`
 * (`failCommand` blockConnection, `monitored`'s commands only), subscribes
 * to `source`, and unsubscribes once the command has been sent. Returns how
 * many values reached the subscriber, read when asked.
 */
export async function unsubscribeInFlight(monitored: Monitored, command: string, source: Observable<unknown>, blockTimeMS = 3000): Promise<() => number> {
  await failCommand(monitored, { failCommands: [command], blockConnection: true, blockTimeMS });
  let delivered = 0;
  const subscription = source.subscribe(() => (delivered += 1));
  await eventually(() => monitored.commands(command).length === 1, `${command} sent`);
  subscription.unsubscribe();
  return () => delivered;
}
