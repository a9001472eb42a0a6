import { BSON, type ResumeToken } from 'mongodb';

interface Pending {
  seq: number;
  /** Position after this event; `undefined` for events that have none (history-lost replacements). */
  token: ResumeToken | undefined;
}

/**
 * Which resume token may be saved, given which events have been handled.
 *
 * Events get increasing sequence numbers as they are read; the position a
 * checkpoint may hold is the token after the last event that has been
 * acknowledged with every earlier one. A quiet (empty) batch moves the
 * position to the server's post-batch token: at once if nothing is
 * outstanding, else when the last outstanding event is acknowledged, since
 * nothing between that event and the post-batch token matched the pipeline.
 *
 * Driver counterpart: the driver's change-stream cursor caches the token of
 * the last *returned* event; this tracks the last *handled* one.
 */
export class TokenTracker {
  private readonly pending: Pending[] = [];
  private nextSeq = 0;
  private acknowledged: ResumeToken | undefined;

  /** Starts from a position loaded from a checkpoint. */
  startFrom(token: ResumeToken): void {
    this.acknowledged = token;
  }

  /** The position after every acknowledged event (what a checkpoint holds). */
  get position(): ResumeToken | undefined {
    return this.acknowledged;
  }

  /** Events read and not yet acknowledged. */
  get outstanding(): number {
    return this.pending.length;
  }

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

  /**
   * Records a post-batch token from a batch without events. Returns the new
   * position when it takes effect at once, else `undefined`.
   */
  quiet(token: ResumeToken): ResumeToken | undefined {
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined) {
      last.token = token;
      return undefined;
    }
    if (sameToken(token, this.acknowledged)) return undefined;
    this.acknowledged = token;
    return token;
  }

  /**
   * Acknowledges every event up to and including `seq`. Returns how many
   * events that acknowledged and the new position if it moved.
   */
  acknowledge(seq: number): { events: number; token: ResumeToken | undefined } {
    let count = 0;
    let token: ResumeToken | undefined;
    while (count < this.pending.length && this.pending[count].seq <= seq) {
      token = this.pending[count].token ?? token;
      count += 1;
    }
    if (count === 0) return { events: 0, token: undefined };
    this.pending.splice(0, count);
    if (token !== undefined) this.acknowledged = token;
    return { events: count, token };
  }
}

/**
 * Whether two resume tokens are the same position. Server tokens are
 * `{ _data: <hex string> }`; anything else is compared by its extended JSON.
 */
export function sameToken(a: ResumeToken | undefined, b: ResumeToken | undefined): boolean {
  if (a === b) return true;
  if (a == null || b == null) return false;
  const dataA = (a as { _data?: unknown })._data;
  const dataB = (b as { _data?: unknown })._data;
  if (typeof dataA === 'string' && typeof dataB === 'string') return dataA === dataB;
  return BSON.EJSON.stringify(a as BSON.Document, { relaxed: false }) === BSON.EJSON.stringify(b as BSON.Document, { relaxed: false });
}
