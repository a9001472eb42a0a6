/**
 * Runs a demo script as its own process, the way a user does, and reads
 * what it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');

export class DemoProcess {
  /** Everything printed so far, stdout and stderr interleaved. */
  output = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly listeners = new Set<() => void>();
  /** Set once the process has exited and its output has been read to the end. */
  private closed = false;

  /** `node --import tsx <script> ...args` in the repository, one process (signals reach the demo itself). */
  constructor(script: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const append = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      for (const listener of [...this.listeners]) listener();
    };
    this.child.stdout!.on('data', append);
    this.child.stderr!.on('data', append);
    this.exit = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.closed = true;
        for (const listener of [...this.listeners]) listener();
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first match of `pattern` in the output; rejects if the process ends or `timeoutMs` passes first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = this.output.match(pattern);
        if (match) {
          finish();
          resolve(match);
        } else if (this.closed) {
          finish();
          reject(new Error(`the demo exited before printing ${pattern}:\n${this.output}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`the demo did not print ${pattern} within ${timeoutMs} ms:\n${this.output}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }
}
