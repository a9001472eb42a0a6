import type { Document } from 'mongodb';
import { RxMongoError } from '../errors';

interface SplitEvent {
  fragment: number;
  of: number;
}

/**
 * Puts the fragments of `$changeStreamSplitLargeEvent` back together.
 *
 * The server splits an event over 16 MB by its top-level fields into
 * fragments `1..of`, each with the other fields it carries, its own `_id`
 * (a resume token) and `splitEvent: { fragment, of }`. The whole event is
 * every fragment's fields, without `splitEvent`, with the last fragment's
 * `_id`: resuming after it continues after the event.
 *
 * The reader hands over only whole events, and reports the position only
 * after the last fragment; a cursor reopened in the middle of an event
 * starts before its first fragment, so the assembler starts empty then.
 *
 * @internal
 */
export class FragmentAssembler<TChange extends Document> {
  private parts: Document[] = [];

  /** Whether fragments of an event are waiting for the rest. */
  get pending(): boolean {
    return this.parts.length > 0;
  }

  /** Forgets fragments read so far (the cursor is reopened from before the first). */
  reset(): void {
    this.parts = [];
  }

  /** The whole event once `change` completes it (or is not a fragment); `undefined` while more fragments are due. */
  add(change: TChange): TChange | undefined {
    const split = (change as { splitEvent?: SplitEvent }).splitEvent;
    if (split === undefined) {
      if (this.pending) throw this.broken(`an unsplit event arrived after fragment ${this.parts.length} of ${this.expected}`);
      return change;
    }
    const { fragment, of } = split;
    if (fragment !== this.parts.length + 1 || (this.pending && of !== this.expected) || !(of >= fragment)) {
      throw this.broken(`fragment ${fragment} of ${of} arrived after ${this.pending ? `fragment ${this.parts.length} of ${this.expected}` : 'a whole event'}`);
    }
    this.parts.push(change);
    if (fragment < of) return undefined;
    const whole: Document = {};
    for (const part of this.parts) {
      for (const [key, value] of Object.entries(part)) if (key !== 'splitEvent') whole[key] = value;
    }
    this.parts = [];
    return whole as TChange;
  }

  private get expected(): number | undefined {
    return (this.parts[0] as { splitEvent?: SplitEvent } | undefined)?.splitEvent?.of;
  }

  private broken(what: string): RxMongoError {
    this.parts = [];
    return new RxMongoError(`change stream fragments out of order: ${what}`);
  }
}
