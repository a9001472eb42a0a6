import { BSON, type ResumeToken } from 'mongodb';

interface Pending {
  seq: number;
  /** Position after this event; `undefined` for events that have none (history-lost replacements). */
  token: ResumeToken | undefined;
}

/**
 * Which position the events acknowledged so far reach.
 *
 * Events get increasing sequence numbers as they are read; the position is
 * the token after the last event acknowledged with every earlier one. A
 * quiet (empty) batch moves it to the server's post-batch token: at once if
 * nothing is outstanding, else when the last outstanding event is
 * acknowledged, since nothing between that event and the post-batch token
 * matched the pipeline.
 *
 * Driver counterpart: the driver's change-stream cursor caches the token of
 * the last *returned* event; this tracks the last *handled* one.
 *
 * @internal
 */
export class AcknowledgedTokens {
  private readonly pending: Pending[] = [];
  private head = 0;
  private nextSeq = 0;

  /** Sequence number of the last event read, -1 before any. */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Records an event read with the position after it; returns its sequence number. */
  read(token: ResumeToken | undefined): number {
    const seq = this.nextSeq++;
    this.pending.push({ seq, token });
    return seq;
  }

  /** A batch without events reached `token`: `true` when that takes effect at once (nothing outstanding). */
  quiet(token: ResumeToken): boolean {
    if (this.head === this.pending.length) return true;
    this.pending[this.pending.length - 1].token = token;
    return false;
  }

  /** Acknowledges every event up to `seq`: how many that was, and the position reached (if any). */
  acknowledge(seq: number): { events: number; token: ResumeToken | undefined } {
    let token: ResumeToken | undefined;
    const start = this.head;
    while (this.head < this.pending.length && this.pending[this.head].seq <= seq) {
      token = this.pending[this.head].token ?? token;
      this.head += 1;
    }
    const events = this.head - start;
    // Drop acknowledged entries in chunks, so acknowledging one at a time stays O(1).
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    return { events, token };
  }
}

/**
 * Whether two positions are the same. Server tokens are `{ _data: <hex> }`;
 * anything else (a Timestamp, a test token) is compared by its extended JSON.
 */
export function sameToken(a: ResumeToken | undefined, b: ResumeToken | undefined): boolean {
  if (a === b) return true;
  if (a == null || b == null) return false;
  const dataA = (a as { _data?: unknown })._data;
  const dataB = (b as { _data?: unknown })._data;
  if (typeof dataA === 'string' && typeof dataB === 'string') return dataA === dataB;
  return BSON.EJSON.stringify(a as BSON.Document, { relaxed: false }) === BSON.EJSON.stringify(b as BSON.Document, { relaxed: false });
}
