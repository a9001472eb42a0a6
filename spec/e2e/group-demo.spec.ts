/**
 * The consumer-group demo on this run's backend: three member processes,
 * two of them SIGKILLed mid-stream and restarted, must between them handle
 * every change, each member in order, and end with fair shares.
 */
import { runGroupDemo } from '../../demos/group/run';
import { backend, driverClient, uniqueDbName } from '../support/backend';
import { DemoProcess } from './demo-process';

describe('consumer-group demo', () => {
  const database = uniqueDbName('groupdemo');

  afterAll(async () => {
    const raw = driverClient();
    await raw.db(database).dropDatabase().finally(() => raw.close());
  });

  it('loses nothing across two SIGKILLs of members', async () => {
    const lines: string[] = [];
    const proof = await runGroupDemo({
      uri: backend().uri,
      database,
      members: 3,
      partitions: 6,
      documents: 20,
      rounds: 30,
      kills: 2,
      killEveryMS: 2000,
      restartAfterMS: 1000,
      timeoutMS: 80_000,
      log: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('SIGKILL #'))).toHaveLength(2);
    expect(proof).toMatchObject({ produced: 620, handled: 620, lost: 0, outOfOrder: 0, kills: 2, starts: 5 });
    expect(proof.rebalanceMS).toHaveLength(2);
    expect(proof.shares.reduce((a, b) => a + b, 0)).toBe(6);
    for (const share of proof.shares) expect(share).toBeLessThanOrEqual(proof.fairShare);
  }, 90_000);

  it('npm run demo:group refuses a bad flag with a message and exit code 1', async () => {
    const demo = new DemoProcess('demos/group/main.ts', ['--partitions', '0'], { RXMONGO_TEST_BACKEND: backend().kind });
    const exit = await demo.exit;
    expect(demo.output).toContain("--partitions must be an integer from 1 to 1024, got '0'");
    expect(exit.code).toBe(1);
  });
});
