/**
 * What a spec file sees of the run's backend (chosen once by global-setup),
 * and the helpers every integration spec uses.
 */
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { CAPABILITY_REASONS, type BackendKind, type Capability } from './capabilities';
import { acquire } from './exclusive';

export interface Backend {
  kind: BackendKind;
  uri: string;
  capabilities: ReadonlySet<Capability>;
}

export function backend(): Backend {
  const uri = process.env.RXMONGO_TEST_URI;
  if (!uri) throw new Error('no test backend: run specs through jest (spec/support/global-setup.ts)');
  return {
    kind: process.env.RXMONGO_TEST_KIND as BackendKind,
    uri,
    capabilities: new Set((process.env.RXMONGO_TEST_CAPS ?? '').split(',').filter(Boolean) as Capability[]),
  };
}

/** The capabilities among `needs` that this run's backend lacks. */
export function missing(...needs: Capability[]): Capability[] {
  const have = backend().capabilities;
  return needs.filter((c) => !have.has(c));
}

/**
 * `describe` when the backend has every capability in `needs`, otherwise a
 * `describe.skip` whose title states the reason.
 */
export function describeWith(needs: Capability[], title: string, body: () => void): void {
  const lacking = missing(...needs);
  if (lacking.length === 0) {
    describe(title, () => {
      if (needs.includes('failCommand')) {
        // One fail point per deployment: fault specs in parallel workers take turns.
        let release: (() => void) | undefined;
        beforeAll(async () => {
          release = await acquire(`failCommand ${backend().uri}`);
        }, 600_000);
        afterAll(() => release?.());
      }
      body();
    });
  } else {
    const reason = lacking.map((c) => CAPABILITY_REASONS[c]).join('; ');
    describe.skip(`${title} [skipped on ${backend().kind}: ${reason}]`, body);
  }
}

/** `it` when the backend has every capability in `needs`, otherwise an `it.skip` whose title states the reason. */
export function itWith(needs: Capability[], title: string, body: () => Promise<void>, timeoutMS?: number): void {
  const lacking = missing(...needs);
  if (lacking.length === 0) it(title, body, timeoutMS);
  else it.skip(`${title} [skipped on ${backend().kind}: ${lacking.map((c) => CAPABILITY_REASONS[c]).join('; ')}]`, body);
}

/** Driver options every spec client shares. */
export const SPEC_DRIVER_OPTIONS: MongoClientOptions = { serverSelectionTimeoutMS: 10_000 };

/** A raw driver client on the backend; the caller closes it. */
export function driverClient(options: MongoClientOptions = {}): MongoClient {
  return new MongoClient(backend().uri, { ...SPEC_DRIVER_OPTIONS, ...options });
}

let counter = 0;
/** A database name no other spec uses, so spec files can share a deployment. */
export function uniqueDbName(prefix = 'spec'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}
