/**
 * What every workload gets: the server, the run's size, and clients made
 * the same way for both sides (same URI, same options).
 */
import { MongoClient, type CommandStartedEvent, type MongoClientOptions } from 'mongodb';
import { lastValueFrom } from 'rxjs';
import { RxMongoClient } from '../lib';
import type { BenchBackend } from './backend';

export interface BenchContext {
  backend: Pick<BenchBackend, 'kind' | 'uri' | 'reason'>;
  quick: boolean;
  /** Options both sides' clients are built with. */
  clientOptions: MongoClientOptions;
  /** A database name no other workload uses. */
  dbName(prefix: string): string;
}

let counter = 0;

export function createContext(backend: BenchContext['backend'], quick: boolean): BenchContext {
  return {
    backend,
    quick,
    clientOptions: { serverSelectionTimeoutMS: 15_000 },
    dbName: (prefix) => `bench_${prefix}_${process.pid}_${++counter}`,
  };
}

/** A raw driver client and an rxmongo client with identical options, both connected. */
export interface ClientPair {
  raw: MongoClient;
  rx: RxMongoClient;
}

/**
 * Opens a pair (`extra` options on both) and builds on it; if connecting or
 * building fails, the pair is closed before the error goes on.
 */
export async function buildOnPair<T>(
  ctx: BenchContext,
  extra: MongoClientOptions,
  build: (pair: ClientPair) => Promise<T>,
): Promise<T> {
  const options = { ...ctx.clientOptions, ...extra };
  const pair: ClientPair = {
    raw: new MongoClient(ctx.backend.uri, options),
    rx: new RxMongoClient(ctx.backend.uri, options),
  };
  try {
    await pair.raw.connect();
    // rxmongo connects lazily; the warm-up would do it, this keeps setup symmetric.
    await pair.rx.driver.connect();
    return await build(pair);
  } catch (err) {
    await closePair(pair).catch(() => {});
    throw err;
  }
}

export async function closePair(pair: ClientPair): Promise<void> {
  await Promise.all([pair.raw.close(), lastValueFrom(pair.rx.close(), { defaultValue: undefined })]);
}

/**
 * Counts the change streams a client opens (the driver's command monitoring;
 * the client needs `monitorCommands: true`): each `aggregate` starting with
 * `$changeStream` is one server cursor.
 */
export class ChangeStreamCounter {
  changeStreams = 0;
  private readonly listener = (event: CommandStartedEvent): void => {
    if (event.commandName !== 'aggregate') return;
    const pipeline = event.command.pipeline as Array<Record<string, unknown>> | undefined;
    if (pipeline?.[0] && '$changeStream' in pipeline[0]) this.changeStreams += 1;
  };

  constructor(private readonly client: MongoClient) {
    client.on('commandStarted', this.listener);
  }

  reset(): void {
    this.changeStreams = 0;
  }

  detach(): void {
    this.client.off('commandStarted', this.listener);
  }
}
