import type { StartedBackend } from './ladder';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __rxmongoBackend?: StartedBackend }).__rxmongoBackend?.stop();
}
