/**
 * Tailable cursors on capped collections, as mongod serves them: the
 * cursor reads in insertion order and stays open at the end of the
 * collection; each getMore returns what was inserted since. With
 * `awaitData` an empty getMore waits up to its `maxTimeMS` (1 s when it
 * names none) for an insert and then answers an empty batch; without it,
 * it answers at once, and a `maxTimeMS` on its getMore is BadValue. A
 * cursor whose position was deleted (the capped collection rolled over
 * past it) fails with CappedPositionLost; a dropped collection with
 * QueryPlanKilled.
 */
import type { Document } from 'bson';
import type { Batch, CursorSource } from './cursors';
import { AwaitData, DEFAULT_AWAIT_MS } from './await-data';
import { CommandError } from './errors';
import { compileFilter, project, type EvalOptions, type Matcher } from './query';
import type { Store } from './store';


export interface TailOptions {
  filter: Document;
  projection?: Document;
  options: EvalOptions;
  awaitData: boolean;
}

export class TailableSource implements CursorSource {
  private readonly matches: Matcher;
  /** The key (in the collection's insertion order) of the last document examined; null before the first. */
  private position: string | null = null;
  /** The first batch was served: later calls are getMores. */
  private started = false;
  private readonly awaitData: AwaitData;

  constructor(
    private readonly store: Store,
    private readonly db: string,
    private readonly coll: string,
    private readonly tail: TailOptions,
  ) {
    this.matches = compileFilter(tail.filter, tail.options);
    this.awaitData = new AwaitData(store);
  }

  async next(batchSize: number | undefined, maxTimeMS: number | undefined, signal?: AbortSignal): Promise<Batch> {
    const getMore = this.started;
    this.started = true;
    if (getMore && !this.tail.awaitData && maxTimeMS !== undefined) {
      throw new CommandError('BadValue', 'cannot set maxTimeMS on getMore command for a non-awaitData cursor');
    }
    const deadline = Date.now() + (getMore && this.tail.awaitData ? (maxTimeMS ?? DEFAULT_AWAIT_MS) : 0);
    for (;;) {
      const docs = this.read(batchSize);
      const wait = deadline - Date.now();
      if (docs.length > 0 || wait <= 0) return { docs, exhausted: false };
      await this.awaitData.wait(wait, signal);
    }
  }

  close(): void {
    this.awaitData.kill();
  }

  /** The matching documents after the position, up to `batchSize`; moves the position past what it examined. */
  private read(batchSize: number | undefined): Document[] {
    const data = this.store.collection(this.db, this.coll);
    if (!data) throw new CommandError('QueryPlanKilled', `collection dropped. Cursor on ${this.db}.${this.coll}`);
    const keys = [...data.docs.keys()];
    let start = 0;
    if (this.position !== null) {
      const at = keys.indexOf(this.position);
      if (at < 0) throw new CommandError('CappedPositionLost', 'CollectionScan died due to position in capped collection being deleted.');
      start = at + 1;
    }
    if (batchSize === 0) return [];
    const out: Document[] = [];
    for (let i = start; i < keys.length && (batchSize === undefined || out.length < batchSize); i++) {
      const doc = data.docs.get(keys[i])!;
      this.position = keys[i];
      if (this.matches(doc)) out.push(doc);
    }
    return this.tail.projection ? project(out, this.tail.projection, this.tail.filter, this.tail.options) : out;
  }
}
