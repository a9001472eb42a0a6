/**
 * Collection validators as mongod applies them: `$jsonSchema` (with BSON
 * types) and query validators, `validationLevel` (strict, moderate, off) and
 * `validationAction` (error, warn), and a failing write's
 * DocumentValidationFailure (121) with `errInfo.details` explaining it.
 */
import { Double, Int32, type Document } from 'mongodb';
import { serverError } from '../support/server-error';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('valid');

const ITEM_SCHEMA = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['name', 'qty'],
    properties: {
      name: { bsonType: 'string', description: 'the item name' },
      qty: { bsonType: 'int', minimum: 0 },
      price: { bsonType: ['double', 'decimal'] },
    },
  },
};

/** The documents these specs write. */
interface Item {
  _id?: number | string;
  name?: string;
  qty?: number | Int32 | Double;
  price?: unknown;
  note?: string;
}

async function collectionWith(options: Document): Promise<string> {
  const name = scratch.freshName();
  await scratch.db.createCollection(name, options);
  return name;
}

describe('$jsonSchema validators', () => {
  it('accept a document that satisfies the schema', async () => {
    const coll = scratch.db.collection<Item>(await collectionWith({ validator: ITEM_SCHEMA }));
    await coll.insertOne({ name: 'pen', qty: new Int32(3), price: new Double(2) });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('refuse a missing property with 121 and mongod\'s explanation', async () => {
    const coll = scratch.db.collection<Item>(await collectionWith({ validator: ITEM_SCHEMA }));
    const error = await serverError(coll.insertOne({ _id: 'x', name: 'pen' }));
    expect(error.code).toBe(121);
    expect(error.errInfo).toMatchObject({
      failingDocumentId: 'x',
      details: {
        operatorName: '$jsonSchema',
        schemaRulesNotSatisfied: [{ operatorName: 'required', specifiedAs: { required: ['name', 'qty'] }, missingProperties: ['qty'] }],
      },
    });
  });

  it('tell BSON types apart: a double 1.0 is not an int, an int is not a double', async () => {
    const coll = scratch.db.collection<Item>(await collectionWith({ validator: ITEM_SCHEMA }));
    const error = await serverError(coll.insertOne({ name: 'pen', qty: new Double(1) }));
    const rules = (error.errInfo?.details).schemaRulesNotSatisfied;
    expect(rules).toEqual([{
      operatorName: 'properties',
      propertiesNotSatisfied: [{
        propertyName: 'qty',
        details: [{ operatorName: 'bsonType', specifiedAs: { bsonType: 'int' }, reason: 'type did not match', consideredValue: 1, consideredType: 'double' }],
      }],
    }]);
    expect((await serverError(coll.insertOne({ name: 'pen', qty: 1, price: 5 }))).code).toBe(121);
  });

  it('$jsonSchema also works as a query', async () => {
    const coll = await scratch.fresh([{ _id: 1, a: 'x' }, { _id: 2, a: 5 }, { _id: 3 }]);
    const found = await coll.find({ $jsonSchema: { required: ['a'], properties: { a: { bsonType: 'string' } } } }).toArray();
    expect(found.map((d) => d._id)).toEqual([1]);
  });

  it('an unknown keyword is refused when the collection is created', async () => {
    const error = await serverError(scratch.db.createCollection(scratch.freshName(), { validator: { $jsonSchema: { nope: 1 } } }));
    expect(error.code).toBe(9);
  });
});

describe('query validators', () => {
  it('refuse a failing document with the operator that failed', async () => {
    const coll = scratch.db.collection<Item>(await collectionWith({ validator: { qty: { $gte: 0 } } }));
    const error = await serverError(coll.insertOne({ _id: 1, qty: -1 }));
    expect(error.code).toBe(121);
    expect(error.errInfo).toMatchObject({
      failingDocumentId: 1,
      details: { operatorName: '$gte', specifiedAs: { qty: { $gte: 0 } }, reason: 'comparison failed', consideredValue: -1 },
    });
  });

  it('check updates too, and leave the document as it was', async () => {
    const coll = scratch.db.collection<Item>(await collectionWith({ validator: { qty: { $gte: 0 } } }));
    await coll.insertOne({ _id: 1, qty: 5 });
    expect((await serverError(coll.updateOne({ _id: 1 }, { $inc: { qty: -10 } }))).code).toBe(121);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, qty: 5 });
  });
});

describe('validationLevel and validationAction', () => {
  it('moderate lets documents that already fail be updated; new ones are still checked', async () => {
    const name = scratch.freshName();
    const coll = scratch.db.collection<Item>(name);
    await coll.insertOne({ _id: 1, qty: -5 });
    await scratch.db.command({ collMod: name, validator: { qty: { $gte: 0 } }, validationLevel: 'moderate' });
    await coll.updateOne({ _id: 1 }, { $set: { note: 'old' } });
    expect((await serverError(coll.insertOne({ _id: 2, qty: -1 }))).code).toBe(121);
    await scratch.db.command({ collMod: name, validationLevel: 'strict' });
    expect((await serverError(coll.updateOne({ _id: 1 }, { $set: { note: 'new' } }))).code).toBe(121);
  });

  it('off and warn let a failing document in', async () => {
    const off = scratch.db.collection<Item>(await collectionWith({ validator: { qty: { $gte: 0 } }, validationLevel: 'off' }));
    await off.insertOne({ qty: -1 });
    const warn = scratch.db.collection<Item>(await collectionWith({ validator: { qty: { $gte: 0 } }, validationAction: 'warn' }));
    await warn.insertOne({ qty: -1 });
    expect(await off.countDocuments() + await warn.countDocuments()).toBe(2);
  });

  it('bypassDocumentValidation lets a failing document in', async () => {
    const coll = scratch.db.collection<Item>(await collectionWith({ validator: { qty: { $gte: 0 } } }));
    await coll.insertOne({ qty: -1 }, { bypassDocumentValidation: true });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('listCollections shows the validator and its settings', async () => {
    const name = await collectionWith({ validator: ITEM_SCHEMA, validationLevel: 'moderate', validationAction: 'warn' });
    const [info] = await scratch.db.listCollections({ name }).toArray();
    expect(info).toMatchObject({ options: { validator: ITEM_SCHEMA, validationLevel: 'moderate', validationAction: 'warn' } });
  });
});
