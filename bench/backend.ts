/**
 * The bench's server: a child process running the ladder
 * (`spec/support/ladder.ts`): `MONGODB_URI` → mongodb-memory-server → the
 * wire test server.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { extname, join } from 'node:path';

export interface BenchBackend {
  kind: 'uri' | 'memory-server' | 'wire';
  uri: string;
  reason: string;
  stop(): Promise<void>;
}

// Compiled (`npm run bench`) this file is .js and so is its sibling; under a TypeScript loader, .ts.
const CHILD = join(__dirname, `backend-process${extname(__filename)}`);

export async function startBenchBackend(): Promise<BenchBackend> {
  // Plain node for compiled JavaScript; under a loader, execArgv carry it to the child.
  const child = spawn(process.execPath, [...process.execArgv, CHILD], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: process.env,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    // mongodb-memory-server reports a failed download at length; keep the tail for a failure report.
    stderr = (stderr + chunk).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    void exited.then((code) => reject(new Error(`the bench backend exited (${code}) before starting:\n${stderr}`)));
  });
  lines.close();
  const info = JSON.parse(first) as Omit<BenchBackend, 'stop'>;
  return {
    ...info,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
