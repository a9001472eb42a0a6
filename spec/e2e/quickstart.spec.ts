/**
 * The README's runnable examples as a user meets them: each block is read
 * from README.md itself, saved in an ES module project next to the packed
 * package, type-checked by TypeScript (strict, nodenext), compiled and run
 * by node against the run's backend.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backend, itWith } from '../support/backend';
import { pack, REPO, run, tsc, unpackAsInstalled, type Ran } from '../support/packed';
import { readmeBlock, readmeCodeBlocks } from '../support/readme';

const EXAMPLES = {
  quickstart: '## Quickstart',
  'cold-observables': '## Cold Observables: every subscribe runs again',
  lag: '### How far behind: `lag$`',
  headroom: '### Will my checkpoint still be in the oplog tomorrow? `headroom$`',
  metrics: '### Metrics and OpenTelemetry',
  'exactly-once': '### Exactly-once projections: `transactional`',
  'dead-letters': '### When a handler fails: `onHandlerError`, dead letters, `replay`',
  'large-events': '### Events over 16 MB: `splitLargeEvents`',
  'initial-snapshot': '### The current state, then the changes: `initialSnapshot`',
  dashboard: '### A live dashboard',
  'event-sourcing': '### An event-sourcing consumer that never loses an event',
  'consumer-group': '## Scaling out: consumer groups',
};

describe('the README examples, against the packed package', () => {
  let project: string;
  let compiled: Ran;

  beforeAll(async () => {
    mkdirSync(join(REPO, '.tmp'), { recursive: true });
    // Inside the repository, so rxjs, mongodb and @types/node resolve from its node_modules.
    project = mkdtempSync(join(REPO, '.tmp', 'readme-'));
    await unpackAsInstalled(await pack(project), project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    const files = Object.keys(EXAMPLES).map((name) => `${name}.ts`);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, types: ['node'] },
        files,
      }),
    );
    for (const [name, heading] of Object.entries(EXAMPLES)) writeFileSync(join(project, `${name}.ts`), readmeBlock(heading));
    compiled = await tsc(['-p', project], project);
  }, 120_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  function runExample(name: keyof typeof EXAMPLES): Promise<Ran> {
    return run(process.execPath, [`${name}.js`], { cwd: project, env: { MONGODB_URI: backend().uri }, timeoutMs: 20_000 });
  }

  it('covers every TypeScript and JavaScript block of the README: none is a fragment left unrun', () => {
    const run = new Set<string>(Object.values(EXAMPLES));
    const unrun = readmeCodeBlocks().filter(({ lang, heading, place }) => lang !== 'ts' || place > 1 || !run.has(heading));
    // A new example is one ```ts block per section, its heading in EXAMPLES and an `it` checking what it prints.
    expect(unrun).toEqual([]);
  });

  it('type-checks under strict with module and moduleResolution nodenext', () => {
    expect(compiled.output).toBe('');
    expect(compiled.code).toBe(0);
  });

  it('runs the quickstart to completion: it prints what its comments say and exits 0 on its own', async () => {
    const { code, output } = await runExample('quickstart');
    expect(output).toContain("big orders: [ { sku: 'pear', qty: 12 } ]");
    expect(output).toContain('smallest order: apple');
    expect(output).toContain("balances: [ { _id: 'alice', balance: 90 }, { _id: 'bob', balance: 10 } ]");
    expect(output).toMatch(/primary: \S+:\d+ of \d+ members/);
    expect(output).toContain('inserted plum\ninserted fig');
    expect(output).toContain("sold: [ { _id: 'kiwi', qty: 5 } ]");
    // A process that does not exit on its own is killed; this prints its output.
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the cold-Observable example: the second subscribe of one insertOne(doc) is a duplicate key', async () => {
    const { code, output } = await runExample('cold-observables');
    expect(output).toContain('the second subscribe sent the same _id again: duplicate key');
    expect(output).toContain('two documents: true');
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the lag$ example: a stuck handler holds three changes, then the stream catches up', async () => {
    const { code, output } = await runExample('lag');
    expect(output).toMatch(/behind: 3 unacknowledged, the newest read \d+ ms ago/);
    expect(output).toContain('caught up: 0 unacknowledged');
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the exactly-once example: the balances of three payments, applied in one transaction with the checkpoint', async () => {
    const { code, output } = await runExample('exactly-once');
    expect(output).toContain("balances: [ { _id: 'alice', total: 42 }, { _id: 'bob', total: 5 } ]");
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the headroom$ example: it places the stopped consumer’s checkpoint in the oplog window', async () => {
    const { code, output } = await runExample('headroom');
    // A deployment at MONGODB_URI may not let a client read its oplog; the example then says so.
    expect(output).toMatch(backend().kind === 'uri' ? /headroom(: \d+ ms of a \d+ ms oplog window| unknown: \S)/ : /headroom: \d+ ms of a \d+ ms oplog window; checkpoint \d+ ms old/);
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the dead-letter example: the bad order is retried, parked, then replayed', async () => {
    const { code, output } = await runExample('dead-letters');
    expect(output).toContain("shipped: [ 'apple', 'plum' ]");
    expect(output).toContain('parked: pear - bad quantity 0 after 3 attempts');
    expect(output).toContain("replayed: [ 'pear' ] left: 0");
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the metrics example: the same figures in metrics$ and in OpenTelemetry', async () => {
    const { code, output } = await runExample('metrics');
    expect(output).toContain('metrics$: 2 events, 0 restarts');
    expect(output).toContain('OpenTelemetry: rxmongodb.change_stream.events = 2');
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  // The block runs against the backend as is: a server without the stage would fail it, not skip it.
  itWith(['splitLargeEvents'], 'runs the large-event example: one 20 MB update event, whole', async () => {
    const { code, output } = await runExample('large-events');
    expect(output).toContain('one update event: 10 MB of update description + 10 MB of document');
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 60_000);

  it('runs the initial-snapshot example: the documents, then the change after them', async () => {
    const { code, output } = await runExample('initial-snapshot');
    expect(output).toContain("snapshot { _id: 'apple', qty: 3 }\nsnapshot { _id: 'pear', qty: 7 }\nupdate apple { qty: 2 }");
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the dashboard example: three widgets on one cursor, each sees the changes, close completes them', async () => {
    const { code, output } = await runExample('dashboard');
    // One `opened` for the three widgets and the waiter: they share one server cursor.
    expect(output.match(/^status: opened$/gm)).toHaveLength(1);
    expect(output).toContain('feed: 3 × apple\nfeed: 12 × pear\nfeed: 1 × fig');
    // The chart counts the three inserts and the update, in whichever seconds they fell.
    const perSecond = [...output.matchAll(/^chart: (\d+) changes\/s$/gm)].map((m) => Number(m[1]));
    expect(perSecond.reduce((sum, n) => sum + n, 0)).toBe(4);
    expect(output).toMatch(/^status: closed$/m);
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the event-sourcing example: the restarted projector continues from its checkpoint, the repeat absorbed', async () => {
    const { code, output } = await runExample('event-sourcing');
    expect(output).toContain(
      ['applied alice #1', 'applied bob #1', 'applied alice #2', 'repeat absorbed: alice #2', 'applied bob #2', 'applied alice #3'].join('\n'),
    );
    expect(output).toContain("balances: [ { _id: 'alice', balance: 75 }, { _id: 'bob', balance: 70 } ]");
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);

  it('runs the consumer-group example: two members split the partitions and the orders between them', async () => {
    const { code, output } = await runExample('consumer-group');
    const members = ['a', 'b'].map((name) => {
      const line = new RegExp(`^member ${name}, partitions (\\d),(\\d): (\\d+) of 20 orders$`, 'm').exec(output);
      expect(line).not.toBeNull();
      return { partitions: [Number(line![1]), Number(line![2])], orders: Number(line![3]) };
    });
    expect(members.flatMap((m) => m.partitions).sort()).toEqual([0, 1, 2, 3]);
    // Each partition holds some of _id 1…20, so each member handles some, and together all 20.
    expect(members.every((m) => m.orders > 0)).toBe(true);
    expect(members[0].orders + members[1].orders).toBe(20);
    expect(output).not.toMatch(/\[killed after \d+ ms\]/);
    expect(code).toBe(0);
  }, 40_000);
});
