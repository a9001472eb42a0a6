/**
 * `local.oplog.rs` as clients read it: the retained oplog, one document per
 * entry in mongod's format (`ts`, `t`, `v`, `op`, `ns`, `ui`, `o`, `o2`,
 * `wall`), a transaction as one `applyOps` entry. Tools read its first and
 * last entries to learn the oplog window, as `rs.printReplicationInfo()`
 * does. The collection is read-only.
 *
 * Limits: an update's `o` is a `$v: 2` diff built from the change-stream
 * update description (fields set with `u`, removed with `d`, nested
 * documents with `s<field>`), without mongod's array-diff form.
 */
import { Long, UUID, type Document } from 'bson';
import { CollectionData, type OplogEntry, type Store } from './store';

/** mongod's replication term; this set never holds a second election term in its oplog. */
const TERM = Long.ONE;
const VERSION = Long.fromNumber(2);

const cache = new WeakMap<Store, { key: string; data: CollectionData }>();

/** The retained oplog as a read-only collection, rebuilt only after the oplog changed. */
export function oplogCollection(store: Store): CollectionData {
  const oplog = store.oplog;
  const last = oplog[oplog.length - 1];
  const key = `${oplog.length}|${oplog[0]?.clusterTime.toString()}|${last?.clusterTime.toString()}|${last?.txnOpIndex}`;
  const cached = cache.get(store);
  if (cached?.key === key) return cached.data;
  const data = new CollectionData(OPLOG_UUID, { capped: true });
  for (const doc of oplogDocuments(oplog)) data.docs.set(doc.ts.toString(), doc);
  cache.set(store, { key, data });
  return data;
}

const OPLOG_UUID = new UUID();

function oplogDocuments(oplog: readonly OplogEntry[]): Document[] {
  const out: Document[] = [];
  for (let i = 0; i < oplog.length; i++) {
    const entry = oplog[i];
    if (entry.lsid && entry.txnNumber !== undefined) {
      // A transaction's entries share one cluster time and become one applyOps entry.
      const ops: Document[] = [];
      let j = i;
      while (j < oplog.length && oplog[j].clusterTime.equals(entry.clusterTime)) ops.push(operation(oplog[j++]));
      out.push({
        lsid: entry.lsid,
        txnNumber: Long.fromBigInt(entry.txnNumber),
        op: 'c',
        ns: 'admin.$cmd',
        o: { applyOps: ops },
        ts: entry.clusterTime,
        t: TERM,
        v: VERSION,
        wall: entry.wallTime,
        prevOpTime: { ts: new Long(0), t: Long.fromNumber(-1) },
      });
      i = j - 1;
      continue;
    }
    out.push({ ...operation(entry), ts: entry.clusterTime, t: TERM, v: VERSION, wall: entry.wallTime });
  }
  return out;
}

/** One entry's `op`, `ns`, `ui`, `o` and `o2`. */
function operation(entry: OplogEntry): Document {
  const ns = `${entry.db}.${entry.coll}`;
  const command = `${entry.db}.$cmd`;
  const ui = entry.collectionUUID ? { ui: entry.collectionUUID } : {};
  switch (entry.op) {
    case 'noop':
      return { op: 'n', ns: '', o: entry.operationDescription ?? {} };
    case 'insert':
      return { op: 'i', ns, ...ui, o: entry.after, o2: entry.documentKey };
    case 'update':
      return { op: 'u', ns, ...ui, o: { $v: 2, diff: diffOf(entry) }, o2: entry.documentKey };
    case 'replace':
      return { op: 'u', ns, ...ui, o: entry.after, o2: entry.documentKey };
    case 'delete':
      return { op: 'd', ns, ...ui, o: entry.documentKey };
    case 'create':
      return { op: 'c', ns: command, ...ui, o: { create: entry.coll, ...entry.operationDescription } };
    case 'drop':
      return { op: 'c', ns: command, ...ui, o: { drop: entry.coll } };
    case 'rename':
      return { op: 'c', ns: command, ...ui, o: { renameCollection: ns, to: `${entry.to?.db}.${entry.to?.coll}`, stayTemp: false } };
    case 'dropDatabase':
      return { op: 'c', ns: command, o: { dropDatabase: 1 } };
    case 'createIndexes':
      return { op: 'c', ns: command, ...ui, o: { createIndexes: entry.coll, ...firstIndex(entry) } };
    case 'dropIndexes':
      return { op: 'c', ns: command, ...ui, o: { dropIndexes: entry.coll, index: firstIndex(entry).name } };
    case 'modify':
      return { op: 'c', ns: command, ...ui, o: { collMod: entry.coll, ...entry.operationDescription } };
  }
}

function firstIndex(entry: OplogEntry): Document {
  return ((entry.operationDescription?.indexes as Document[] | undefined) ?? [])[0] ?? {};
}

/** A `$v: 2` diff from an update description: `u` for set fields, `d` for removed ones, `s<field>` to go down. */
function diffOf(entry: OplogEntry): Document {
  const diff: Document = {};
  const at = (path: string[]): Document => {
    let node = diff;
    for (const part of path) node = (node[`s${part}`] ??= {}) as Document;
    return node;
  };
  const description = entry.updateDescription;
  for (const [path, value] of Object.entries(description?.updatedFields ?? {})) {
    const parts = path.split('.');
    ((at(parts.slice(0, -1)).u ??= {}) as Document)[parts[parts.length - 1]] = value;
  }
  for (const path of description?.removedFields ?? []) {
    const parts = path.split('.');
    ((at(parts.slice(0, -1)).d ??= {}) as Document)[parts[parts.length - 1]] = false;
  }
  return diff;
}
