/**
 * The package as a whole: what lib/index.ts hands users, and the direction
 * of imports between the folders of lib/ (the map in the README's
 * Architecture section).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import * as rxmongo from '../../lib';

const LIB = join(__dirname, '../../lib');

/** Which layers each layer may import from; the README draws the same map. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  index: ['client', 'change-stream', 'topology', 'checkpoint', 'driver', 'errors'],
  client: ['change-stream', 'topology', 'driver', 'errors'],
  'change-stream': ['checkpoint', 'driver', 'errors'],
  topology: ['errors'],
  checkpoint: ['errors'],
  driver: ['errors'],
  errors: [],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** `lib/client/x.ts` → `client`, `lib/errors.ts` → `errors`. */
function layerOf(file: string): string {
  const [first] = relative(LIB, file).split(sep);
  return first.replace(/\.ts$/, '');
}

describe('lib/index.ts', () => {
  it('exports the public classes and no internals', () => {
    expect(Object.keys(rxmongo).sort()).toEqual(
      [
        'Awaitable',
        'CheckpointCorruptError',
        'CheckpointInUseError',
        'CheckpointLeaseLostError',
        'CheckpointTimeoutError',
        'ClientClosedError',
        'CollectionCheckpointStore',
        'ConfigurationError',
        'DocumentTooLargeError',
        'FileCheckpointStore',
        'InvalidNameError',
        'InvalidOperationError',
        'MemoryCheckpointStore',
        'RxChangeStream',
        'RxClientSession',
        'RxCollection',
        'RxDatabase',
        'RxMongoClient',
        'RxMongoError',
        'SubscriberOverflowError',
        'fromDriverCursor',
        'redactConnectionString',
        'replay',
      ].sort(),
    );
  });
});

describe('layers of lib/', () => {
  const files = sources(LIB);

  it('puts every source file in a known layer', () => {
    expect(files.map(layerOf).filter((layer) => !(layer in MAY_IMPORT))).toEqual([]);
  });

  it('imports only downwards (type-only imports included)', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']*)'/g)) {
        const to = layerOf(join(file, '..', specifier));
        if (to !== from && !MAY_IMPORT[from].includes(to)) wrong.push(`${relative(LIB, file)} → ${specifier}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
