/**
 * Helpers shared by the watch*.spec.ts and checkpoint*.spec.ts files: a
 * numbered-document collection on a monitored client, waiting for a stream's
 * status, and what the server sent on change-stream cursors.
 */
import type { ChangeStreamDocument, CommandSucceededEvent, Document } from 'mongodb';
import { filter, firstValueFrom, lastValueFrom, type Observable } from 'rxjs';
import type { ChangeStreamStatus, RxChangeStream } from '../../lib/change-stream';
import type { RxCollection } from '../../lib/client/collection';
import { uniqueDbName } from '../support/backend';
import { monitoredClient, type Monitored } from './client-monitor';

export interface Numbered {
  n: number;
  kind?: string;
}

export interface Fixture {
  m: Monitored;
  numbers: RxCollection<Numbered>;
  close(): Promise<void>;
}

/** A monitored client and an existing, empty collection of its own. */
export async function fixture(prefix = 'watch'): Promise<Fixture> {
  const m = monitoredClient();
  const numbers = m.client.db(uniqueDbName(prefix)).collection<Numbered>('numbers');
  await m.client.db(numbers.dbName).driver.createCollection('numbers');
  m.reset();
  return { m, numbers, close: () => lastValueFrom(m.client.close()) };
}

/** Inserts documents numbered `from`..`to`, in order, one command per `chunk`. */
export async function insertNumbers(numbers: RxCollection<Numbered>, from: number, to: number, chunk = 50): Promise<void> {
  for (let start = from; start <= to; start += chunk) {
    const docs: Numbered[] = [];
    for (let n = start; n <= Math.min(to, start + chunk - 1); n += 1) docs.push({ n });
    await numbers.driver.insertMany(docs);
  }
}

/** Resolves at the next status of `type` (subscribe before causing it). */
export function nextStatus<T extends ChangeStreamStatus['type']>(
  stream: RxChangeStream<never, never> | { status$: Observable<ChangeStreamStatus> },
  type: T,
): Promise<Extract<ChangeStreamStatus, { type: T }>> {
  return firstValueFrom(
    stream.status$.pipe(filter((s): s is Extract<ChangeStreamStatus, { type: T }> => s.type === type)),
  );
}

/** Every status from now on. */
export function statusLog(stream: { status$: Observable<ChangeStreamStatus> }): ChangeStreamStatus[] {
  const log: ChangeStreamStatus[] = [];
  stream.status$.subscribe((s) => log.push(s));
  return log;
}

/** `aggregate` commands that opened change streams. */
export function changeStreamAggregates(m: Monitored): Document[] {
  return m.commands('aggregate').filter((c) => Array.isArray(c.pipeline) && c.pipeline[0]?.$changeStream !== undefined);
}

/** Change events the server returned in a reply (first or next batch). */
export function batchOf(event: CommandSucceededEvent): Document[] {
  if (event.commandName !== 'aggregate' && event.commandName !== 'getMore') return [];
  const cursor = (event.reply as { cursor?: { firstBatch?: Document[]; nextBatch?: Document[] } }).cursor;
  return cursor?.firstBatch ?? cursor?.nextBatch ?? [];
}

/** The `n` of an insert event's document. */
export function numberOf(change: ChangeStreamDocument<Numbered>): number {
  return change.operationType === 'insert' ? change.fullDocument.n : NaN;
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
