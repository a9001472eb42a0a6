/**
 * From oplog entries to change events: which entries a stream sees, the
 * event documents mongod 8.0 builds from them (field order included), the
 * invalidate that follows a drop or rename, pre- and post-images, and the
 * fragments of `$changeStreamSplitLargeEvent`.
 */
import { createHash } from 'node:crypto';
import { BSON, Binary, Long, type Document } from 'bson';
import { CommandError } from '../errors';
import type { OplogEntry, Store } from '../store';
import type { StreamSpec } from './spec';
import { encodeToken, tokenDoc, uuidHex, type TokenData } from './token';

/** An event before images and the user's pipeline. */
export interface RawEvent {
  doc: Document;
  token: TokenData;
  /** `_data` of the token. */
  data: string;
  entry: OplogEntry;
  invalidate: boolean;
}

/** What streams show without `showExpandedEvents`. */
const CLASSIC = new Set(['insert', 'update', 'replace', 'delete', 'drop', 'rename', 'dropDatabase', 'invalidate']);
const INTERNAL_DBS = new Set(['admin', 'config', 'local']);
/** The largest document mongod returns (BSONObjMaxInternalSize); a bigger event is BSONObjectTooLarge. */
export const MAX_EVENT_SIZE = 16 * 1024 * 1024 + 16 * 1024;
/** `$changeStreamSplitLargeEvent` splits events above this, leaving room for the postBatchResumeToken. */
export const MAX_FRAGMENT_SIZE = MAX_EVENT_SIZE - 8 * 1024;
/** The `uid` mongod puts in a session id: the SHA-256 of the (empty, unauthenticated) user name. */
const ANONYMOUS_UID = new Binary(createHash('sha256').update('').digest(), 0);

/** Whether a stream without `showExpandedEvents` shows this kind of event. */
export function isClassic(operationType: string): boolean {
  return CLASSIC.has(operationType);
}

/** The events an entry produces on this stream (none if it is not about the stream's namespace). */
export function eventsFor(spec: StreamSpec, entry: OplogEntry): RawEvent[] {
  if (entry.op === 'noop' || !concerns(spec, entry)) return [];
  const token: TokenData = {
    clusterTime: entry.clusterTime,
    highWaterMark: false,
    txnOpIndex: entry.txnOpIndex,
    fromInvalidate: false,
    uuid: entry.op === 'dropDatabase' ? undefined : uuidHex(entry.collectionUUID),
  };
  const event = raw(buildEvent(spec, entry, token), token, entry, false);
  if (!invalidates(spec, entry.op)) return [event];
  const invalidateToken = { ...token, fromInvalidate: true };
  const doc = {
    _id: tokenDoc(invalidateToken),
    operationType: 'invalidate',
    clusterTime: entry.clusterTime,
    wallTime: entry.wallTime,
  };
  return [event, raw(doc, invalidateToken, entry, true)];
}

function raw(doc: Document, token: TokenData, entry: OplogEntry, invalidate: boolean): RawEvent {
  return { doc, token, data: (doc._id as Document)._data as string, entry, invalidate };
}

function concerns(spec: StreamSpec, entry: OplogEntry): boolean {
  if (entry.op === 'dropDatabase') return spec.level === 'cluster' ? !INTERNAL_DBS.has(entry.db) : entry.db === spec.db;
  if (watches(spec, entry.db, entry.coll)) return true;
  return entry.op === 'rename' && entry.to !== undefined && watches(spec, entry.to.db, entry.to.coll);
}

function watches(spec: StreamSpec, db: string, coll: string | undefined): boolean {
  const visible = coll === undefined || spec.showSystemEvents || !coll.startsWith('system.');
  switch (spec.level) {
    case 'collection':
      return db === spec.db && coll === spec.coll;
    case 'database':
      return db === spec.db && visible;
    case 'cluster':
      return !INTERNAL_DBS.has(db) && visible;
  }
}

/** Collection streams end at their collection's drop or rename, database streams at dropDatabase. */
function invalidates(spec: StreamSpec, op: OplogEntry['op']): boolean {
  if (spec.level === 'collection') return op === 'drop' || op === 'rename' || op === 'dropDatabase';
  return spec.level === 'database' && op === 'dropDatabase';
}

const OPERATION_TYPES: Record<OplogEntry['op'], string> = {
  insert: 'insert',
  update: 'update',
  replace: 'replace',
  delete: 'delete',
  create: 'create',
  drop: 'drop',
  rename: 'rename',
  dropDatabase: 'dropDatabase',
  createIndexes: 'createIndexes',
  dropIndexes: 'dropIndexes',
  modify: 'modify',
  noop: 'noop',
};

function buildEvent(spec: StreamSpec, entry: OplogEntry, token: TokenData): Document {
  const op = entry.op;
  const doc: Document = {};
  if (entry.txnNumber !== undefined && entry.lsid) {
    doc.txnNumber = Long.fromBigInt(entry.txnNumber);
    doc.lsid = { ...entry.lsid, uid: entry.lsid.uid ?? ANONYMOUS_UID };
  }
  doc._id = tokenDoc(token);
  doc.operationType = OPERATION_TYPES[op];
  doc.clusterTime = entry.clusterTime;
  if (spec.showExpandedEvents && op !== 'dropDatabase' && entry.collectionUUID) doc.collectionUUID = entry.collectionUUID;
  doc.wallTime = entry.wallTime;
  if (op === 'insert' || op === 'replace') doc.fullDocument = entry.after;
  // Holds its place for a post-image, as mongod's event does.
  if (op === 'update' && spec.fullDocument !== 'default') doc.fullDocument = null;
  doc.ns = op === 'dropDatabase' ? { db: entry.db } : { db: entry.db, coll: entry.coll };
  if (op === 'insert' || op === 'update' || op === 'replace' || op === 'delete') doc.documentKey = entry.documentKey;
  if (op === 'rename' && entry.to) doc.to = { db: entry.to.db, coll: entry.to.coll };
  if (spec.showExpandedEvents) {
    const description = operationDescription(entry);
    if (description) doc.operationDescription = description;
    if (entry.stateBeforeChange) doc.stateBeforeChange = entry.stateBeforeChange;
  }
  if (op === 'update' && entry.updateDescription) {
    const { updatedFields, removedFields, truncatedArrays, disambiguatedPaths } = entry.updateDescription;
    doc.updateDescription = { updatedFields, removedFields, truncatedArrays };
    if (spec.showExpandedEvents) doc.updateDescription.disambiguatedPaths = disambiguatedPaths;
  }
  if (op === 'create' && spec.showExpandedEvents) doc.nsType = 'collection';
  return doc;
}

function operationDescription(entry: OplogEntry): Document | undefined {
  if (entry.op === 'rename' && entry.to) {
    const { to: _ignored, ...rest } = entry.operationDescription ?? {};
    return { to: { db: entry.to.db, coll: entry.to.coll }, ...rest };
  }
  return entry.operationDescription;
}

/** Adds the post-image (`fullDocument`) and pre-image (`fullDocumentBeforeChange`) the stream asked for. */
export function addImages(spec: StreamSpec, store: Store, event: RawEvent): void {
  const { doc, entry } = event;
  const op = doc.operationType as string;
  if (op === 'update' && spec.fullDocument !== 'default') {
    const post =
      spec.fullDocument === 'updateLookup'
        ? store.collection(entry.db, entry.coll!)?.get((entry.documentKey as Document)._id)
        : entry.imagesRecorded
          ? entry.after
          : undefined;
    if (!post && spec.fullDocument === 'required') {
      throw new CommandError(
        'NoMatchingDocument',
        `Change stream was configured to require a post-image for all update events, but the post-image was not found for event: ${summary(doc)}`,
      );
    }
    doc.fullDocument = post ?? null;
  }
  if ((op === 'update' || op === 'replace' || op === 'delete') && spec.fullDocumentBeforeChange !== 'off') {
    const pre = entry.imagesRecorded ? entry.before : undefined;
    if (!pre && spec.fullDocumentBeforeChange === 'required') {
      throw new CommandError(
        'NoMatchingDocument',
        `Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not found for event: ${summary(doc)}`,
      );
    }
    doc.fullDocumentBeforeChange = pre ?? null;
  }
}

function summary(doc: Document): string {
  const ns = doc.ns as { db: string; coll?: string };
  const time = doc.clusterTime as { t: number; i: number };
  const coll = ns.coll === undefined ? '' : `, coll: "${ns.coll}"`;
  return `{operationType: "${doc.operationType as string}", ns: {db: "${ns.db}"${coll}}, clusterTime: Timestamp(${time.t}, ${time.i})}`;
}

/**
 * Splits an event into fragments of at most {@link MAX_FRAGMENT_SIZE} bytes:
 * fields ordered by size then name, packed greedily, each fragment with its
 * own token and `splitEvent: { fragment, of }`. The first `skip` fragments
 * (already delivered before a resume) are left out.
 */
export function splitEvent(doc: Document, token: TokenData, skip: number): Document[] {
  const fields = Object.keys(doc)
    .filter((key) => key !== '_id')
    .map((key) => ({ key, size: BSON.calculateObjectSize({ [key]: doc[key] }) - 5 }))
    .sort((a, b) => a.size - b.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (fields.length === 0) {
    throw new CommandError('Location7182500', "Cannot split an empty event or an event containing solely '_id' field");
  }
  const limit = MAX_FRAGMENT_SIZE - BSON.calculateObjectSize(doc._id as Document);
  const fragments: Document[] = [];
  let i = 0;
  while (i < fields.length) {
    const fragment: Document = {
      _id: { _data: encodeToken({ ...token, fragment: fragments.length }) },
      splitEvent: { fragment: fragments.length + 1, of: 0 },
    };
    let size = BSON.calculateObjectSize(fragment);
    do {
      fragment[fields[i].key] = doc[fields[i].key];
      size += fields[i].size;
      i += 1;
    } while (i < fields.length && size + fields[i].size <= limit);
    if (size > limit) {
      throw new CommandError(
        'Location7182500',
        `Splitting change event failed: fragment size ${size} is greater than maximum allowed fragment size ${limit}`,
      );
    }
    fragments.push(fragment);
  }
  for (const fragment of fragments) (fragment.splitEvent as Document).of = fragments.length;
  return fragments.slice(skip);
}
