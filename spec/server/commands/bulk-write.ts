/**
 * The server 8.0 admin `bulkWrite` (the driver's `MongoClient.bulkWrite`).
 */
import type { Document } from 'bson';
import { ArraySource, openedBy } from '../cursors';
import { CommandError } from '../errors';
import { sortSpec } from '../query';
import { checkFields, cursorBatchSize, splitNamespace, toNumber, truthy, wrongType, type FieldType } from './args';
import type { CommandContext, CommandSpec } from './types';
import { checkBatch, insertDocument, isDocument, letWith, runDelete, runStatements, runUpdate } from './statements';

const BULK_OPS: Record<string, { fields: Record<string, FieldType>; required: string[] }> = {
  insert: { fields: { insert: 'int64', document: 'object' }, required: ['document'] },
  update: {
    fields: {
      update: 'int64', filter: 'object', multi: 'boolish', updateMods: 'update', upsert: 'boolish', arrayFilters: 'array',
      collation: 'object', hint: 'hint', sort: 'object', constants: 'object', upsertSupplied: 'boolish', sampleId: 'any',
    },
    required: ['filter', 'updateMods'],
  },
  delete: { fields: { delete: 'int64', filter: 'object', multi: 'boolish', hint: 'hint', collation: 'object', sampleId: 'any' }, required: ['filter'] },
};

/**
 * The server 8.0 admin `bulkWrite` (the driver's `MongoClient.bulkWrite`):
 * operations on any namespaces, results in a cursor.
 */
function bulkWrite(ctx: CommandContext, cmd: Document): Promise<Document> {
  checkFields(cmd, 'bulkWrite', {
    ops: 'array', nsInfo: 'array', cursor: 'object', bypassDocumentValidation: 'boolish', ordered: 'bool',
    errorsOnly: 'bool', let: 'object', stmtIds: 'array',
  }, { command: true, required: ['ops', 'nsInfo'] });
  const batchSize = cursorBatchSize(cmd, 'bulkWrite');
  const nsInfo = (cmd.nsInfo as unknown[]).map((entry) => {
    if (!isDocument(entry)) throw wrongType('bulkWrite.nsInfo', 'object', entry);
    checkFields(entry, 'bulkWrite.nsInfo', {
      ns: 'string', collectionUUID: 'any', encryptionInformation: 'object', isTimeseriesNamespace: 'bool',
      shardVersion: 'any', databaseVersion: 'any',
    }, { required: ['ns'] });
    return splitNamespace(entry.ns as string);
  });
  const ops = cmd.ops as unknown[];
  checkBatch(ops.length);
  const parsed = ops.map((op, idx) => {
    if (!isDocument(op)) throw wrongType('bulkWrite.ops', 'object', op);
    const kind = Object.keys(op)[0];
    const shape = BULK_OPS[kind];
    if (!shape) throw new CommandError('FailedToParse', `Unrecognized bulkWrite operation: ${kind}`);
    checkFields(op, 'bulkWrite.ops', shape.fields, { required: shape.required });
    const index = toNumber(op[kind]);
    if (index === undefined || !Number.isInteger(index) || index < 0 || index >= nsInfo.length) {
      throw new CommandError('BadValue', `BulkWrite ops entry ${idx} has an invalid nsInfo index.`);
    }
    return { kind, op, ns: nsInfo[index] };
  });
  const counts = { nErrors: 0, nInserted: 0, nMatched: 0, nModified: 0, nUpserted: 0, nDeleted: 0 };
  const results: Document[] = [];
  const bypass = truthy(cmd.bypassDocumentValidation);
  const errors = runStatements(ctx, cmd.ordered !== false, parsed, ({ kind, op, ns }, idx): Document => {
    if (kind === 'insert') {
      insertDocument(ctx, ns, op.document as Document, bypass);
      return { ok: 1, idx, n: 1 };
    }
    if (kind === 'update') {
      const outcome = runUpdate(ctx, ns, {
        filter: op.filter as Document,
        u: op.updateMods as Document,
        multi: truthy(op.multi),
        upsert: truthy(op.upsert),
        arrayFilters: op.arrayFilters as Document[] | undefined,
        sort: sortSpec(op.sort as Document | undefined),
        hint: op.hint,
        options: { let: letWith(cmd.let as Document | undefined, op.constants as Document | undefined), collation: op.collation as Document | undefined },
        bypass,
      });
      const item: Document = { ok: 1, idx, n: outcome.n, nModified: outcome.nModified };
      if (outcome.upsertedId !== undefined) item.upserted = { index: 0, _id: outcome.upsertedId };
      return item;
    }
    const n = runDelete(ctx, ns, op.filter as Document, truthy(op.multi), op.hint, { let: cmd.let as Document | undefined, collation: op.collation as Document | undefined }).length;
    return { ok: 1, idx, n };
  }, (item, idx) => {
    const kind = parsed[idx].kind;
    if (kind === 'insert') {
      counts.nInserted += 1;
    } else if (kind === 'update') {
      if (item.upserted !== undefined) counts.nUpserted += 1;
      else counts.nMatched += item.n as number;
      counts.nModified += item.nModified as number;
    } else {
      counts.nDeleted += item.n as number;
    }
    results.push(item);
  });
  for (const { index, error } of errors) {
    results.push({ ok: 0, idx: index, code: error.code, codeName: error.codeName, errmsg: error.message, ...error.extra });
  }
  counts.nErrors = errors.length;
  results.sort((a, b) => (a.idx as number) - (b.idx as number));
  const items = cmd.errorsOnly === true ? results.filter((r) => r.ok === 0) : results;
  return ctx.member.cursors
    .first('admin.$cmd.bulkWrite', new ArraySource(items), batchSize, openedBy(cmd))
    .then((reply) => ({ ...reply, ...counts }));
}

export const BULK_WRITE_COMMANDS: CommandSpec[] = [
  { name: 'bulkWrite', adminOnly: true, write: true, retryable: true, inTransaction: true, run: bulkWrite },
];
