/**
 * Server cursors: the registry each member keeps, the generic batch logic
 * shared by every cursor kind, and `getMore`/`killCursors`.
 */
import type { Socket } from 'node:net';
import { BSON, Long, type Document } from 'bson';
import { CommandError } from './errors';

/** Replies stay under mongod's 16 MiB batch limit. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 16 * 1024;
const DEFAULT_FIRST_BATCH = 101;

export interface Batch {
  docs: Document[];
  /** True when the cursor has nothing more and the server has closed it. */
  exhausted: boolean;
  /** Extra fields of the `cursor` sub-document (e.g. postBatchResumeToken). */
  extra?: Document;
}

/** A cursor kind: a query result, or a tailable change stream. */
export interface CursorSource {
  /** The next batch; a source that waits for data stops waiting when `signal` aborts (killOp). */
  next(batchSize: number | undefined, maxTimeMS: number | undefined, signal?: AbortSignal): Promise<Batch> | Batch;
  close?(): void;
}

export interface OpenCursor {
  id: Long;
  ns: string;
  source: CursorSource;
  lsid?: Document;
  /** Opened by `aggregate` with `$changeStream`: its getMore errors may carry ResumableChangeStreamError. */
  changeStream?: boolean;
  /** For `$currentOp` with `idleCursors: true`. */
  createdDate: Date;
  lastAccessDate: Date;
  nDocsReturned: number;
  nBatchesReturned: number;
  /** A getMore is running on it: mongod reports it with that operation, not as an idle cursor. */
  pinned: boolean;
  /** The command that opened it, as `$currentOp` shows it. */
  originatingCommand?: Document;
}

/** How a cursor was opened. */
export interface OpenOptions {
  lsid?: Document;
  /** Opened by `aggregate` with `$changeStream`. */
  changeStream?: boolean;
  originatingCommand?: Document;
}

/** The options of a cursor opened by `cmd`. */
export function openedBy(cmd: Document): OpenOptions {
  return { lsid: cmd.lsid as Document | undefined, originatingCommand: cmd };
}

export class CursorRegistry {
  private readonly open = new Map<string, OpenCursor>();
  private nextId = 1n;

  /** Serves the first batch; keeps the cursor only if more may follow. */
  async first(ns: string, source: CursorSource, batchSize: number | undefined, options: OpenOptions = {}): Promise<Document> {
    const batch = await source.next(batchSize ?? DEFAULT_FIRST_BATCH, 0);
    let id = Long.ZERO;
    if (!batch.exhausted) {
      // Random-looking 63-bit ids, like mongod's.
      id = Long.fromBigInt((BigInt(Math.floor(Math.random() * 2 ** 31)) << 32n) | this.nextId++);
      const now = new Date();
      this.open.set(id.toString(), {
        id, ns, source, lsid: options.lsid, changeStream: options.changeStream, originatingCommand: options.originatingCommand,
        createdDate: now, lastAccessDate: now, nDocsReturned: batch.docs.length, nBatchesReturned: 1, pinned: false,
      });
    } else {
      source.close?.();
    }
    return { cursor: { firstBatch: batch.docs, id, ns, ...batch.extra }, ok: 1 };
  }

  /**
   * Serves a getMore. A client that disconnects while its getMore waits
   * (awaitData) interrupts it and the cursor goes with it, as in mongod.
   */
  async getMore(
    cmd: Document,
    db: string,
    client?: { socket: Socket },
    afterCheckout?: (ns: string) => void,
    signal?: AbortSignal,
  ): Promise<Document> {
    const raw = cmd.getMore;
    if (!Long.isLong(raw) && typeof raw !== 'number' && typeof raw !== 'bigint') {
      throw new CommandError('TypeMismatch', "Field 'getMore' must be of type long in: getMore");
    }
    if (typeof cmd.collection !== 'string') {
      throw new CommandError('TypeMismatch', "BSON field 'getMore.collection' is missing or not a string");
    }
    const key = Long.fromValue(raw as number).toString();
    const cursor = this.open.get(key);
    if (!cursor) throw new CommandError('CursorNotFound', `cursor id ${key} not found`);
    if (cursor.ns !== `${db}.${cmd.collection}`) {
      throw new CommandError(
        'Unauthorized',
        `Requested getMore on namespace '${db}.${cmd.collection}', but cursor belongs to a different namespace ${cursor.ns}`,
      );
    }
    const batchSize = typeof cmd.batchSize === 'number' && cmd.batchSize > 0 ? cmd.batchSize : undefined;
    const maxTimeMS = typeof cmd.maxTimeMS === 'number' ? cmd.maxTimeMS : undefined;
    let batch: Batch;
    const disconnected = (): void => this.kill(key);
    client?.socket.once('close', disconnected);
    cursor.pinned = true;
    try {
      afterCheckout?.(cursor.ns);
      batch = await cursor.source.next(batchSize, maxTimeMS, signal);
    } catch (err) {
      // As in mongod, a getMore that fails takes its cursor with it.
      this.kill(key);
      throw err;
    } finally {
      cursor.pinned = false;
      cursor.lastAccessDate = new Date();
      client?.socket.off('close', disconnected);
    }
    cursor.nDocsReturned += batch.docs.length;
    cursor.nBatchesReturned += 1;
    if (batch.exhausted) this.kill(key);
    return {
      cursor: { nextBatch: batch.docs, id: batch.exhausted ? Long.ZERO : cursor.id, ns: cursor.ns, ...batch.extra },
      ok: 1,
    };
  }

  killCursors(cmd: Document, db: string): Document {
    if (!Array.isArray(cmd.cursors)) {
      throw new CommandError('TypeMismatch', "BSON field 'killCursors.cursors' is missing or not an array");
    }
    const cursorsKilled: Long[] = [];
    const cursorsNotFound: Long[] = [];
    for (const raw of cmd.cursors as unknown[]) {
      const id = Long.fromValue(raw as number);
      const cursor = this.open.get(id.toString());
      if (cursor && cursor.ns === `${db}.${cmd.killCursors}`) {
        this.kill(id.toString());
        cursorsKilled.push(id);
      } else {
        cursorsNotFound.push(id);
      }
    }
    return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  isChangeStream(id: Long | number | bigint): boolean {
    return this.open.get(Long.fromValue(id as number).toString())?.changeStream === true;
  }

  /** The open cursors, as `$currentOp` with `idleCursors: true` lists them. */
  list(): OpenCursor[] {
    return [...this.open.values()];
  }

  /** Cursors opened by a session, for endSessions/killSessions. */
  killSession(lsidKey: (lsid: Document) => string, key: string): void {
    for (const [id, cursor] of this.open) {
      if (cursor.lsid && lsidKey(cursor.lsid) === key) this.kill(id);
    }
  }

  get size(): number {
    return this.open.size;
  }

  closeAll(): void {
    for (const id of [...this.open.keys()]) this.kill(id);
  }

  private kill(key: string): void {
    const cursor = this.open.get(key);
    if (!cursor) return;
    this.open.delete(key);
    cursor.source.close?.();
  }
}

/**
 * A cursor over documents already computed (find, aggregate, list*),
 * cutting batches by count and by size as mongod does.
 */
export class ArraySource implements CursorSource {
  private index = 0;

  constructor(private readonly docs: Document[]) {}

  next(batchSize: number | undefined): Batch {
    const out: Document[] = [];
    let bytes = 0;
    while (this.index < this.docs.length && (batchSize === undefined || out.length < batchSize)) {
      const doc = this.docs[this.index];
      bytes += BSON.calculateObjectSize(doc);
      if (bytes > MAX_BATCH_BYTES && out.length > 0) break;
      out.push(doc);
      this.index += 1;
    }
    return { docs: out, exhausted: this.index >= this.docs.length };
  }
}
