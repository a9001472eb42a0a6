/**
 * The package the way users get it: `npm pack` (which builds through
 * `prepack`), unpacked where Node and TypeScript resolve it by name. Shared
 * by the README spec (spec/e2e/quickstart.spec.ts) and `npm run check:package`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');

export interface Ran {
  code: number | null;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** Runs a command to its end; never rejects for a non-zero exit (the caller asserts on `code`). */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // npm is a .cmd script on Windows.
      shell: process.platform === 'win32' && command === 'npm',
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      output += `\n[killed after ${options.timeoutMs} ms]`;
    }, options.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** npm itself: the npm running this process when there is one (`npm test`), else `npm` on the PATH. */
export function npm(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  const cli = process.env.npm_execpath;
  return cli && /\.c?js$/.test(cli) ? run(process.execPath, [cli, ...args], options) : run('npm', args, options);
}

/** TypeScript 7, the project's own compiler. */
export function tsc(args: string[], cwd: string): Promise<Ran> {
  return run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], { cwd });
}

export function packageJson(): { name: string; version: string; peerDependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as ReturnType<typeof packageJson>;
}

/** `npm pack` into `destination`; returns the tarball's path. */
export async function pack(destination: string): Promise<string> {
  mkdirSync(destination, { recursive: true });
  const packed = await npm(['pack', '--pack-destination', destination], { cwd: REPO });
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.output}`);
  const { name, version } = packageJson();
  return join(destination, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
}

/**
 * Unpacks the tarball as `node_modules/<name>` under `directory`, the way npm
 * installs it, without a network: its peers (rxjs, mongodb) resolve from the
 * node_modules folders above, so `directory` must sit inside this repository.
 */
export async function unpackAsInstalled(tarball: string, directory: string): Promise<void> {
  const target = join(directory, 'node_modules', packageJson().name);
  mkdirSync(target, { recursive: true });
  const untar = await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { cwd: directory });
  if (untar.code !== 0) throw new Error(`tar failed:\n${untar.output}`);
}
