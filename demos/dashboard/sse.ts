/**
 * Server-Sent Events: framing, and the one place a subscription meets an
 * HTTP response. The response's `close` (tab closed, network gone, server
 * shutting down) unsubscribes, which releases everything upstream.
 */
import type { ServerResponse } from 'node:http';
import { Subscription, type Observable } from 'rxjs';

/** One SSE message: `event` names the browser-side listener, `data` is JSON. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A comment line: keeps proxies and idle timers from closing a quiet stream. */
export const SSE_KEEPALIVE = ': keepalive\n\n';

export interface StreamOptions {
  /**
   * Bytes a tab may fall behind (unsent, in the socket's buffer) before it is
   * dropped; its `EventSource` reconnects and starts fresh, so one stuck tab
   * cannot grow the server's memory.
   */
  maxBufferedBytes: number;
  /** How soon the browser reconnects after the stream ends (ms). */
  retryMs: number;
}

/** Streams `frames$` to `res` as `text/event-stream` until either side ends. */
export function streamEvents(res: ServerResponse, frames$: Observable<string>, options: StreamOptions): Subscription {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write(`retry: ${options.retryMs}\n\n`);
  const subscription = new Subscription();
  res.once('close', () => subscription.unsubscribe());
  subscription.add(
    frames$.subscribe({
      next: (frame) => {
        res.write(frame);
        if (res.writableLength > options.maxBufferedBytes) res.destroy();
      },
      error: (error: unknown) => {
        res.end(sseFrame('failure', { message: error instanceof Error ? error.message : String(error), final: true }));
      },
      complete: () => res.end(),
    }),
  );
  // A tab gone before it was subscribed has already emitted its `close`.
  if (res.socket === null || res.socket.destroyed) subscription.unsubscribe();
  return subscription;
}
