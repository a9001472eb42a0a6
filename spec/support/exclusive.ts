/**
 * A lock shared by every jest worker on this machine. A deployment has one
 * `failCommand` fail point, so spec files that set it must take turns even
 * when jest runs them in parallel.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const POLL_MS = 50;

function lockPath(name: string): string {
  return join(tmpdir(), `rxmongo-${createHash('sha1').update(name).digest('hex').slice(0, 16)}.lock`);
}

/** Takes the lock named `name`, waiting while another live process holds it. */
export async function acquire(name: string, timeoutMS = 600_000): Promise<() => void> {
  const path = lockPath(name);
  const deadline = Date.now() + timeoutMS;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (holderIsGone(path)) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${path}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

/** A holder that died without releasing (e.g. a killed worker) leaves a stale lock. */
function holderIsGone(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(path, 'pid'), 'utf8'));
  } catch {
    return false; // being written right now
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
