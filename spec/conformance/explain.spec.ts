/**
 * `explain` as mongod answers it: the plan chosen (a COLLSCAN without a
 * usable index, an IXSCAN on the index the filter constrains), the
 * verbosity levels (`queryPlanner`, `executionStats`,
 * `allPlansExecution`) with their counts, and explains of count,
 * distinct, update, delete and aggregate that write nothing.
 */
import type { Document } from 'mongodb';
import { scratchDatabase } from '../support/scratch';

const scratch = scratchDatabase('explain');

const DOCS = Array.from({ length: 20 }, (_, i) => ({ _id: i, a: i % 5, b: i }));

/** Every `stage` named anywhere in an explain document. */
function stageNames(doc: unknown, out: string[] = []): string[] {
  if (doc === null || typeof doc !== 'object') return out;
  if (Array.isArray(doc)) {
    for (const item of doc) stageNames(item, out);
    return out;
  }
  for (const [key, value] of Object.entries(doc as Document)) {
    if (key === 'stage' && typeof value === 'string') out.push(value);
    else if (key !== 'command') stageNames(value, out);
  }
  return out;
}

/** The first stage of that name in a plan tree. */
function findStage(doc: unknown, name: string): Document | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  if ((doc as Document).stage === name) return doc as Document;
  for (const value of Object.values(doc as Document)) {
    const found = findStage(value, name);
    if (found) return found;
  }
  return undefined;
}

async function indexed() {
  const coll = await scratch.fresh(DOCS);
  await coll.createIndex({ a: 1 });
  return coll;
}

describe('explain of find', () => {
  it('a filter on an unindexed field is a COLLSCAN that examines every document', async () => {
    const coll = await indexed();
    const plan = await coll.find({ b: { $gte: 15 } }).explain('executionStats');
    expect(findStage(plan.queryPlanner.winningPlan, 'COLLSCAN')).toBeDefined();
    expect(plan.queryPlanner.namespace).toBe(`${scratch.db.databaseName}.${coll.collectionName}`);
    expect(plan.executionStats).toMatchObject({ executionSuccess: true, nReturned: 5, totalDocsExamined: 20, totalKeysExamined: 0 });
  });

  it('a filter on an indexed field is an IXSCAN of that index, examining only the matching keys', async () => {
    const coll = await indexed();
    const plan = await coll.find({ a: 3 }).explain('executionStats');
    const ixscan = findStage(plan.queryPlanner.winningPlan, 'IXSCAN');
    expect(ixscan).toMatchObject({ indexName: 'a_1', keyPattern: { a: 1 }, direction: 'forward' });
    expect(plan.executionStats).toMatchObject({ nReturned: 4, totalKeysExamined: 4, totalDocsExamined: 4 });
    expect(typeof plan.executionStats.executionTimeMillis).toBe('number');
  });

  it('sort, skip and limit show as stages; a hint picks the index', async () => {
    const coll = await indexed();
    const sorted = await coll.find({ b: { $gt: 2 } }).sort({ b: -1 }).skip(1).limit(3).explain('queryPlanner');
    expect(stageNames(sorted.queryPlanner.winningPlan)).toEqual(expect.arrayContaining(['SORT', 'COLLSCAN']));
    const hinted = await coll.find({ b: 1 }).hint({ a: 1 }).explain('queryPlanner');
    expect(findStage(hinted.queryPlanner.winningPlan, 'IXSCAN')).toMatchObject({ indexName: 'a_1' });
  });

  it('queryPlanner has no executionStats; allPlansExecution adds the candidate plans\' runs', async () => {
    const coll = await indexed();
    const planner = await coll.find({ a: 1 }).explain('queryPlanner');
    expect(planner.executionStats).toBeUndefined();
    expect(planner.queryPlanner.rejectedPlans).toEqual(expect.any(Array));
    const all = await coll.find({ a: 1 }).explain('allPlansExecution');
    expect(all.executionStats.allPlansExecution).toEqual(expect.any(Array));
    expect(all.serverInfo).toMatchObject({ version: expect.any(String) });
  });
});

describe('explain of other commands', () => {
  it('count and distinct', async () => {
    const coll = await indexed();
    const count = await scratch.db.command({ explain: { count: coll.collectionName, query: { b: { $lt: 4 } } }, verbosity: 'queryPlanner' });
    expect(stageNames(count.queryPlanner.winningPlan)).toEqual(expect.arrayContaining(['COUNT', 'COLLSCAN']));
    const distinct = await scratch.db.command({ explain: { distinct: coll.collectionName, key: 'b', query: { b: { $lt: 4 } } }, verbosity: 'queryPlanner' });
    expect(stageNames(distinct.queryPlanner.winningPlan)).toContain('COLLSCAN');
  });

  it('update and delete report what they would do and change nothing', async () => {
    const coll = await indexed();
    const update = await scratch.db.command({
      explain: { update: coll.collectionName, updates: [{ q: { b: { $lt: 3 } }, u: { $set: { x: 1 } }, multi: true }] },
      verbosity: 'executionStats',
    });
    expect(update.queryPlanner.winningPlan.stage).toBe('UPDATE');
    expect(update.executionStats.executionStages).toMatchObject({ stage: 'UPDATE', nMatched: 3, nWouldModify: 3 });
    const remove = await scratch.db.command({
      explain: { delete: coll.collectionName, deletes: [{ q: { a: 0 }, limit: 0 }] },
      verbosity: 'executionStats',
    });
    expect(remove.executionStats.executionStages).toMatchObject({ stage: 'DELETE', nWouldDelete: 4 });
    expect(await coll.countDocuments({ x: 1 })).toBe(0);
    expect(await coll.countDocuments()).toBe(20);
  });

  it('aggregate shows the index its leading $match uses', async () => {
    const coll = await indexed();
    const plan = await coll.aggregate([{ $match: { a: 2 } }, { $group: { _id: '$a', n: { $sum: 1 } } }]).explain('queryPlanner');
    expect(JSON.stringify(plan)).toContain('a_1');
    expect(stageNames(plan)).toContain('IXSCAN');
  });
});
