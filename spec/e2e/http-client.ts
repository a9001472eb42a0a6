/**
 * Test-side HTTP for the dashboard specs: one-shot requests and a minimal
 * Server-Sent Events reader, both on fresh connections (no agent), so a
 * closed stream really is a closed socket.
 */
import { request, type IncomingMessage } from 'node:http';

export interface HttpReply {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
  /** The body parsed as JSON, `undefined` when it is not JSON. */
  json: unknown;
}

export function httpRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface SseFrame {
  event: string;
  data: unknown;
}

/** An open `text/event-stream` response, its frames parsed as they arrive. */
export class EventStream {
  readonly frames: SseFrame[] = [];
  private buffer = '';
  private ended = false;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        this.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 2);
      }
    });
    response.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Opens `url`; rejects unless the server answers 200 with an event stream. */
  static open(url: string): Promise<EventStream> {
    return new Promise((resolve, reject) => {
      const req = request(url, { agent: false, headers: { Accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.resume();
          reject(new Error(`expected an event stream from ${url}, got ${res.statusCode} ${res.headers['content-type']}`));
          return;
        }
        resolve(new EventStream(res));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** The first frame named `event` (already received or still to come) for which `accept` holds. */
  next<T = unknown>(event: string, accept: (data: T) => boolean = () => true, timeoutMs = 15_000): Promise<T> {
    const find = () => this.frames.find((f) => f.event === event && accept(f.data as T));
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = find();
        if (found) {
          done();
          resolve(found.data as T);
        } else if (this.ended) {
          done();
          reject(new Error(`the stream ended before a '${event}' frame arrived`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching '${event}' frame within ${timeoutMs} ms; got ${this.frames.map((f) => f.event).join(', ')}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Hangs up, as a closing browser tab does. */
  close(): void {
    this.response.destroy();
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    this.frames.push({ event, data: JSON.parse(data.join('\n')) });
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Polls `probe` until `accept` holds or `timeoutMs` passes; returns the last value either way. */
export async function settle<T>(probe: () => T | Promise<T>, accept: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await probe();
  }
  return value;
}
