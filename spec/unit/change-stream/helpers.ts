import type { Subscription } from 'rxjs';
import type { CheckpointStore } from '../../../lib/checkpoint/store';
import type { ChangeStreamStatus, RxChangeStream } from '../../../lib/change-stream';

/** Resolves once `condition()` holds; rejects with `what` after `ms`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Records a stream's status$ from now on. */
export function recordStatus(stream: RxChangeStream<never, never> | { status$: RxChangeStream['status$'] }): {
  log: ChangeStreamStatus[];
  types: () => string[];
  subscription: Subscription;
} {
  const log: ChangeStreamStatus[] = [];
  const subscription = stream.status$.subscribe((s) => log.push(s));
  return { log, types: () => log.map((s) => s.type), subscription };
}

export const fastRetry = { initialDelayMS: 5, maxDelayMS: 40, factor: 2, jitter: 0 };

/** Stores `token` under `key` as a consumer that has since gone (acquire, save, release). */
export async function seed(store: CheckpointStore, key: string, token: unknown): Promise<void> {
  const lease = await store.acquire(key, { holder: 'seed', ttlMS: 60_000 });
  if (lease === undefined) throw new Error(`seed: ${key} is held`);
  await store.save(lease, token);
  await store.release(lease);
}
