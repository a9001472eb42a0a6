/**
 * Child processes for the multi-process specs: `node` itself with tsx's
 * loader (never a wrapper, so a signal reaches the process that consumes),
 * its stdout as lines, and waiting for a line, an exit or a condition.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '..', '..');

export interface Child {
  process: ChildProcess;
  lines: string[];
  stderr(): string;
  /** Resolves with the first line (from now or already seen) that `match` accepts. */
  line(match: (line: string) => boolean, what: string, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

export function start(script: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    lines,
    stderr: () => stderr,
    exited,
    line: async (match, what, ms = 30_000) => {
      await until(() => lines.some(match) || child.exitCode !== null || child.signalCode !== null, what, ms);
      const found = lines.find(match);
      if (found === undefined) throw new Error(`${script} exited (${child.exitCode ?? child.signalCode}) before ${what}: ${stderr}`);
      return found;
    },
  };
}

/** Sends `signal` and, for SIGKILL/SIGTERM, resolves once the process is gone. */
export async function signal(child: Child, name: NodeJS.Signals): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill(name);
  if (name === 'SIGKILL' || name === 'SIGTERM') await child.exited;
}

export async function until(condition: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
