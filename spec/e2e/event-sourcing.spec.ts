/**
 * The event-sourcing demo on this run's backend: a projector process built
 * on `consume()` and `CollectionCheckpointStore`, SIGKILLed mid-stream and
 * restarted, must end with a projection equal to the recomputation, every
 * event processed once in effect, duplicates only within the checkpoint
 * bound, and nothing lost.
 */
import { runEventSourcingDemo } from '../../demos/event-sourcing/run';
import { backend, driverClient, uniqueDbName } from '../support/backend';
import { DemoProcess } from './demo-process';

describe('event-sourcing demo', () => {
  const database = uniqueDbName('es');

  afterAll(async () => {
    const raw = driverClient();
    await raw.db(database).dropDatabase().finally(() => raw.close());
  });

  it('loses nothing across three SIGKILLs of the projector', async () => {
    const lines: string[] = [];
    const proof = await runEventSourcingDemo({
      uri: backend().uri,
      database,
      events: 600,
      kills: 3,
      rate: 200,
      timeoutMs: 100_000,
      log: (line) => lines.push(line),
    });
    expect(lines.filter((l) => l.startsWith('SIGKILL #'))).toHaveLength(3);
    expect(proof).toMatchObject({ produced: 600, processed: 600, lost: 0, projectionMatches: true, mismatches: [], kills: 3, starts: 4 });
    expect(proof.duplicates).toBeLessThanOrEqual(proof.duplicateBound);
    expect(proof.checkpointsSaved).toBeGreaterThan(0);
  }, 120_000);

  it('npm run demo:es refuses a bad flag with a message and exit code 1', async () => {
    const demo = new DemoProcess('demos/event-sourcing/main.ts', ['--kills', 'many'], { RXMONGO_TEST_BACKEND: backend().kind });
    const exit = await demo.exit;
    expect(demo.output).toContain("--kills must be an integer from 0 to 100, got 'many'");
    expect(exit.code).toBe(1);
  });
});
