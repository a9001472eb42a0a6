import { getEventListeners } from 'node:events';

type AbortListener = ((this: AbortSignal, event: Event) => void) | { handleEvent(event: Event): void };
type ListenerOptions = boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal };

/**
 * A real `AbortSignal` whose `abort` listeners are kept in a plain array.
 *
 * Why: the driver adds and removes a few `abort` listeners on the signal of
 * every operation (server selection, the socket read, …), and Node's
 * `EventTarget` bookkeeping for them costs about 10 µs of CPU per call —
 * as much as rxmongo's whole per-call path — although a signal is almost
 * never aborted. Here adding and removing cost an array push and splice;
 * the price is paid only by an abort, which calls the kept listeners after
 * the platform's own. Everything else (`aborted`, `reason`,
 * `throwIfAborted`, `AbortSignal.any`, other event types) is the platform's.
 *
 * @internal
 */
export class CallSignal {
  private readonly controller = new AbortController();
  private readonly listeners: AbortListener[] = [];
  readonly signal: AbortSignal = this.controller.signal;

  constructor() {
    const { signal, listeners } = this;
    const add = EventTarget.prototype.addEventListener;
    const remove = EventTarget.prototype.removeEventListener;
    Object.defineProperties(signal, {
      addEventListener: {
        value(type: string, listener: AbortListener | null, options?: ListenerOptions): void {
          // A listener tied to another signal keeps the platform's semantics.
          if (type !== 'abort' || (typeof options === 'object' && options?.signal !== undefined)) {
            add.call(signal, type, listener as never, options);
          } else if (listener !== null && !signal.aborted && !listeners.includes(listener)) {
            listeners.push(listener);
          }
        },
      },
      removeEventListener: {
        value(type: string, listener: AbortListener | null, options?: ListenerOptions): void {
          const at = type === 'abort' && listener !== null ? listeners.lastIndexOf(listener) : -1;
          if (at >= 0) listeners.splice(at, 1);
          else remove.call(signal, type, listener as never, options);
        },
      },
    });
  }

  /** Whether nothing can tell this signal from a new one: never aborted, no listener left. */
  get reusable(): boolean {
    return !this.signal.aborted && this.listeners.length === 0 && getEventListeners(this.signal, 'abort').length === 0;
  }

  /** Aborts the signal, then calls the kept listeners once each, as the platform calls its own. */
  abort(): void {
    if (this.signal.aborted) return;
    this.controller.abort();
    const event = new Event('abort');
    for (const listener of this.listeners.splice(0)) {
      try {
        if (typeof listener === 'function') listener.call(this.signal, event);
        else listener.handleEvent(event);
      } catch (error) {
        // As for a listener of any EventTarget: reported, not thrown into the caller.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
