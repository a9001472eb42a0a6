import { DocumentTooLargeError } from '../../../lib/errors';
import {
  CLIENT_WRITE_MODELS,
  COMMAND,
  FILTER,
  options,
  PIPELINE,
  QUERY,
  UPDATE,
  WRITE_OPERATIONS,
  checkArgument,
} from '../../../lib/client/arguments';

const check = (method: string, arg: Parameters<typeof checkArgument>[1], value: unknown) => () => checkArgument(method, arg, value);

describe('argument kinds', () => {
  it('FILTER needs a document; QUERY takes none too', () => {
    expect(check('deleteOne', FILTER, {})).not.toThrow();
    expect(check('deleteOne', FILTER, undefined)).toThrow(TypeError);
    expect(check('find', QUERY, undefined)).not.toThrow();
    expect(check('find', QUERY, null)).not.toThrow();
    expect(check('find', QUERY, 'id')).toThrow('find(filter): the filter must be a document, got "id"');
  });

  it('UPDATE takes operators or a pipeline; PIPELINE an array of stages; COMMAND a named command', () => {
    expect(check('updateOne', UPDATE, { $set: { a: 1 } })).not.toThrow();
    expect(check('updateOne', UPDATE, [{ $set: { a: 1 } }])).not.toThrow();
    expect(check('updateOne', UPDATE, null)).toThrow(TypeError);
    expect(check('aggregate', PIPELINE, undefined)).not.toThrow();
    expect(check('aggregate', PIPELINE, [{ $match: {} }, 3])).toThrow('aggregate(pipeline): pipeline[1] must be a document (a plain object), got 3');
    expect(check('command', COMMAND, { ping: 1 })).not.toThrow();
    expect(check('command', COMMAND, [])).toThrow(TypeError);
  });

  it('WRITE_OPERATIONS names the model and field at fault', () => {
    expect(check('bulkWrite', WRITE_OPERATIONS, [{ insertOne: { document: { a: 1 } } }, { insertOne: { a: 1 } }, { deleteMany: { filter: {} } }])).not.toThrow();
    expect(check('bulkWrite', WRITE_OPERATIONS, {})).toThrow('bulkWrite(operations): operations must be an array of write models, got an object');
    expect(check('bulkWrite', WRITE_OPERATIONS, [{ deleteOne: { filter: {} } }, { deleteMany: {} }])).toThrow(
      'bulkWrite(operations): operations[1].deleteMany.filter is required ({} matches every document), got undefined',
    );
    expect(check('bulkWrite', WRITE_OPERATIONS, [{ replaceOne: { filter: {}, replacement: 7 } }])).toThrow(
      'bulkWrite(operations): operations[0].replaceOne.replacement must be a document (a plain object), got 7',
    );
    expect(check('bulkWrite', WRITE_OPERATIONS, [{ updateMany: { filter: {} } }])).toThrow(/operations\[0\]\.updateMany\.update must be/);
    expect(check('bulkWrite', WRITE_OPERATIONS, [{ upsertOne: { filter: {} } }])).toThrow(/operations\[0\] must be one of \{ insertOne \|/);
    expect(check('bulkWrite', WRITE_OPERATIONS, [null])).toThrow('bulkWrite(operations): operations[0] must be a document (a plain object), got null');
  });

  it('CLIENT_WRITE_MODELS does the same for client-level models', () => {
    expect(check('bulkWrite', CLIENT_WRITE_MODELS, [{ name: 'deleteMany', namespace: 'd.c', filter: {} }])).not.toThrow();
    expect(check('bulkWrite', CLIENT_WRITE_MODELS, [{ name: 'deleteMany', namespace: 'd.c' }])).toThrow(
      'bulkWrite(models): models[0].filter is required ({} matches every document), got undefined',
    );
    expect(check('bulkWrite', CLIENT_WRITE_MODELS, [{ name: 'drop', namespace: 'd.c' }])).toThrow(/models\[0\]\.name must be one of/);
  });

  it('sizes the documents of write models against the limit', () => {
    const big = { blob: 'x'.repeat(200) };
    expect(() => WRITE_OPERATIONS.size!([{ deleteOne: { filter: {} } }, { insertOne: { document: big } }], 'bulkWrite(operations)', 100, {})).toThrow(
      DocumentTooLargeError,
    );
    expect(() => CLIENT_WRITE_MODELS.size!([{ name: 'replaceOne', namespace: 'd.c', filter: {}, replacement: big }], 'bulkWrite(models)', 100, {})).toThrow(
      "bulkWrite(models): models[0].replacement is 216 bytes as BSON, over the server's limit of 100 bytes (maxBsonObjectSize)",
    );
  });

  it('options: unknown keys with the nearest known one, numeric values by kind', () => {
    const find = options('limit', 'let', 'skip', 'batchSize', 'maxTimeMS');
    expect(check('find', find, { limit: -1, skip: 0, batchSize: 0, maxTimeMS: undefined })).not.toThrow();
    expect(check('find', find, { lmit: 1 })).toThrow("find(options): unknown option 'lmit' (did you mean 'limit'?); known options: batchSize, let, limit, maxTimeMS, skip");
    expect(check('find', find, { wholly: 1 })).toThrow("find(options): unknown option 'wholly'; known options:");
    expect(check('find', find, { limit: Infinity })).toThrow(new RangeError('find(options): options.limit must be an integer, got Infinity'));
    expect(check('find', find, { maxTimeMS: '5' })).toThrow(new TypeError('find(options): options.maxTimeMS must be a non-negative integer, got "5"'));
    expect(check('find', find, [])).toThrow('find(options): options must be an object, got an array');
  });
});
