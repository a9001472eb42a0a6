/**
 * The README's examples (demos/quickstart.ts) run as a user runs them, on the
 * run's backend, and print what the README says they print.
 */
import { backend } from '../support/backend';
import { DemoProcess } from './demo-process';

describe('the README quickstart', () => {
  it('runs every example to completion and exits on its own', async () => {
    const demo = new DemoProcess('demos/quickstart.ts', [], { MONGODB_URI: backend().uri });
    const { code } = await demo.exit;
    expect(demo.output).toContain("1. big orders: [ { sku: 'b', qty: 12 } ]");
    expect(demo.output).toContain("3. balances: [ { _id: 'alice', balance: 90 }, { _id: 'bob', balance: 10 } ]");
    expect(demo.output).toMatch(/4\. primary: \S+:\d+ nodes: /);
    expect(demo.output).toContain('5. seen by two subscribers on one cursor: x y z 3');
    expect(demo.output).toContain('6. consumed: w');
    expect(code).toBe(0);
  }, 60_000);
});
