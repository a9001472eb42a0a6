/**
 * `npm run check:package`: the package the way users install it.
 *
 * 1. `npm pack` (which builds through `prepack`); publint and
 *    arethetypeswrong on the tarball; no `@internal` declaration shipped.
 * 2. In an empty directory, `npm install <tarball> rxjs mongodb`:
 *    `require()` and `import()` both give `RxMongoClient`, the same class.
 * 3. TypeScript 7 (strict, library declarations checked too) resolves the
 *    types from an ES module and a CommonJS file under `module` node16 and
 *    nodenext, and from a bundler-resolved file; the README quickstart,
 *    copied verbatim, type-checks under nodenext and runs to exit code 0
 *    against `MONGODB_URI`, else the server ladder's backend.
 * 4. Again with the lowest versions the peer ranges allow: the package loads
 *    and its shipped sources type-check against those peers.
 *
 * Needs the npm registry (for rxjs, mongodb and @types/node).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startBackend } from '../spec/support/ladder';
import { npm, pack, packageJson, REPO, run, tsc, type Ran } from '../spec/support/packed';
import { readmeBlock } from '../spec/support/readme';

const { name, peerDependencies, devDependencies } = packageJson() as ReturnType<typeof packageJson> & {
  devDependencies: Record<string, string>;
};

/** A TypeScript user's environment: Node's types, and (for the shipped sources) the runtime dependencies' types. */
const TYPES = Object.entries(devDependencies)
  .filter(([dep]) => dep.startsWith('@types/') && dep !== '@types/jest')
  .map(([dep, range]) => `${dep}@${range}`);

const CONSUMERS: Record<string, string> = {
  'esm.mts': `
import { RxMongoClient, RxMongoError, type RxChangeStream } from '${name}';
import type { Observable } from 'rxjs';
import type { ChangeStreamDocument } from 'mongodb';
const client: RxMongoClient = new RxMongoClient('mongodb://localhost:27017');
const found: Observable<{ _id: number; n: number }> = client.db('d').collection<{ _id: number; n: number }>('c').find();
const changes: RxChangeStream<{ n: number }, ChangeStreamDocument<{ n: number }>> = client.db('d').collection<{ n: number }>('c').watch();
export const checks = [found, changes, RxMongoError];
`,
  'cjs.cts': `
import { RxMongoClient } from '${name}';
import rxmongodb = require('${name}');
export const same: typeof RxMongoClient = rxmongodb.RxMongoClient;
export const client = new RxMongoClient('mongodb://localhost:27017');
`,
  'bundler.ts': `
import { RxMongoClient, type RxCollection } from '${name}';
export const orders: RxCollection<{ sku: string }> = new RxMongoClient().db('shop').collection<{ sku: string }>('orders');
`,
};

const STRICT = { target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };

const CONFIGS: Record<string, object> = {
  'tsconfig.node16.json': { compilerOptions: { ...STRICT, module: 'node16', moduleResolution: 'node16' }, files: ['esm.mts', 'cjs.cts'] },
  'tsconfig.nodenext.json': { compilerOptions: { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext' }, files: ['esm.mts', 'cjs.cts'] },
  'tsconfig.bundler.json': { compilerOptions: { ...STRICT, module: 'preserve', moduleResolution: 'bundler' }, files: ['bundler.ts'] },
  // The README quickstart as a user saves it: emitted, then run by node.
  'tsconfig.quickstart.json': {
    compilerOptions: { ...STRICT, noEmit: false, module: 'nodenext', moduleResolution: 'nodenext' },
    files: ['quickstart.ts'],
  },
};

const RUNTIME = `
const { createRequire } = await import('node:module');
const required = createRequire(import.meta.url)('${name}');
const imported = await import('${name}');
if (typeof required.RxMongoClient !== 'function') throw new Error('require() gives no RxMongoClient');
if (typeof imported.RxMongoClient !== 'function') throw new Error('import() gives no RxMongoClient');
if (required.RxMongoClient !== imported.RxMongoClient) throw new Error('require() and import() give two copies of RxMongoClient');
console.log(Object.keys(imported).length + ' exports');
`;

let failures = 0;

function report(what: string, ran: Ran, detail = ''): void {
  if (ran.code === 0) {
    console.log(`ok   ${what}${detail ? `: ${detail}` : ''}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what} (exit ${ran.code})\n${ran.output.trim().replace(/^/gm, '     ')}`);
  }
}

async function checkTarball(tarball: string): Promise<void> {
  const bin = (pkg: string, command: string): string => {
    const manifest = JSON.parse(readFileSync(join(REPO, 'node_modules', pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    return join(REPO, 'node_modules', pkg, manifest.bin[command]!);
  };
  report('publint', await run(process.execPath, [bin('publint', 'publint'), 'run', tarball, '--strict'], { cwd: REPO }));
  report(
    'arethetypeswrong (node10, node16 from CJS and ESM, bundler)',
    await run(process.execPath, [bin('@arethetypeswrong/cli', 'attw'), tarball, '--format', 'table-flipped', '--no-color', '--no-emoji'], { cwd: REPO }),
  );
  const internal = readdirSync(join(REPO, 'dist'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.d.ts') && readFileSync(join(REPO, 'dist', file), 'utf8').includes('@internal'))
    .map((file) => `dist/${file}`);
  report('no @internal declaration shipped', { code: internal.length === 0 ? 0 : 1, output: internal.join('\n') });
}

async function consumer(tarball: string, peers: string[], label: string): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), `${name}-consumer-`));
  writeFileSync(join(directory, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const install = await npm(['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...peers, ...TYPES], {
    cwd: directory,
    timeoutMs: 300_000,
  });
  report(`npm install <tarball> ${peers.join(' ')} (${label})`, install);
  if (install.code !== 0) return directory;
  writeFileSync(join(directory, 'runtime.mjs'), RUNTIME);
  const loaded = await run(process.execPath, ['runtime.mjs'], { cwd: directory });
  report(`require('${name}') and await import('${name}') give one RxMongoClient (${label})`, loaded, loaded.output.trim());
  for (const [file, text] of Object.entries(CONSUMERS)) writeFileSync(join(directory, file), text);
  for (const [file, config] of Object.entries(CONFIGS)) writeFileSync(join(directory, file), JSON.stringify(config));
  for (const mode of ['node16', 'nodenext', 'bundler']) {
    report(`types resolve under ${mode} (${label})`, await tsc(['-p', `tsconfig.${mode}.json`], directory));
  }
  return directory;
}

async function quickstart(directory: string): Promise<void> {
  writeFileSync(join(directory, 'quickstart.ts'), readmeBlock('## Quickstart'));
  report('README quickstart type-checks (strict, nodenext)', await tsc(['-p', 'tsconfig.quickstart.json'], directory));
  const backend = await startBackend();
  try {
    const ran = await run(process.execPath, ['quickstart.js'], { cwd: directory, env: { MONGODB_URI: backend.uri }, timeoutMs: 30_000 });
    report(`README quickstart runs to exit 0 (${backend.kind})`, ran);
  } finally {
    await backend.stop();
  }
}

/** The shipped sources against the lowest peers: the ranges claim no more than the code needs. */
async function sourcesAtFloor(directory: string): Promise<void> {
  const sources = join('node_modules', name, 'lib', 'index.ts');
  writeFileSync(
    join(directory, 'tsconfig.sources.json'),
    JSON.stringify({ compilerOptions: { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext' }, files: [sources] }),
  );
  report(`shipped sources (${sources}) type-check against the lowest peers`, await tsc(['-p', 'tsconfig.sources.json'], directory));
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), `${name}-pack-`));
  const directories = [work];
  try {
    const tarball = await pack(work);
    console.log(`packed ${relative(process.cwd(), tarball) || tarball}`);
    await checkTarball(tarball);
    const latest = await consumer(tarball, Object.keys(peerDependencies), 'latest peers');
    directories.push(latest);
    await quickstart(latest);
    const lowest = Object.entries(peerDependencies).map(([peer, range]) => `${peer}@${range.replace(/^[\^~>=\s]+/, '')}`);
    const floor = await consumer(tarball, lowest, 'lowest peers');
    directories.push(floor);
    await sourcesAtFloor(floor);
  } finally {
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  }
  console.log(failures === 0 ? 'package check: all passed' : `package check: ${failures} failed`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
