/**
 * Topology cost per heartbeat: a client idles while its monitors heartbeat
 * every server; rxmongo has all 8 topology subjects subscribed, the raw
 * driver only the heartbeat counter both sides use. One client exists at a
 * time (opened and closed untimed around each round), so this process's CPU
 * during the round is that client's. Paced by the heartbeat interval: only
 * CPU is compared.
 */
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { lastValueFrom, Subscription, type Observable } from 'rxjs';
import { RxMongoClient } from '../../lib';
import type { BenchContext } from '../context';
import { figureTarget, type Workload, type WorkloadResult } from '../harness';
import { quartiles } from '../stats';

const HEARTBEAT_MS = 250;
const EMISSIONS = 'max emissions per subject per heartbeat';

const SUBJECTS = ['address$', 'primary$', 'secondaries$', 'arbiters$', 'nodes$', 'isPrimary$', 'isMongos$', 'topologyDescription$'] as const;

interface State {
  driver?: MongoClient;
  rx?: RxMongoClient;
  subscription?: Subscription;
  heartbeats: number;
  /** Emissions per subject while counting. */
  emissions: number[];
  counting: boolean;
}

export default function topology(ctx: BenchContext): Workload<State> {
  const beats = ctx.quick ? 4 : 24;
  const options: MongoClientOptions = { ...ctx.clientOptions, heartbeatFrequencyMS: HEARTBEAT_MS };

  /** Counts heartbeats from connect on; waits (untimed) for the first ones to settle. */
  const connect = async (state: State, driver: MongoClient): Promise<void> => {
    state.driver = driver;
    state.heartbeats = 0;
    driver.on('serverHeartbeatSucceeded', () => (state.heartbeats += 1));
    await driver.connect();
    while (state.heartbeats < 3) await new Promise((r) => setTimeout(r, HEARTBEAT_MS / 2));
  };

  /** Waits, timed, for `beats` more heartbeats. */
  const run = async (state: State): Promise<{ ops: number }> => {
    const start = state.heartbeats;
    state.counting = true;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (state.heartbeats - start < beats) return;
        state.driver!.off('serverHeartbeatSucceeded', check);
        resolve();
      };
      state.driver!.on('serverHeartbeatSucceeded', check);
    });
    state.counting = false;
    return { ops: state.heartbeats - start };
  };

  return {
    id: 'topology',
    title: 'topology subjects, per heartbeat',
    order: 80,
    budget: ctx.quick ? { warmupRounds: 0, rounds: 1 } : { warmupRounds: 0, rounds: 4 },
    setup: async () => ({ heartbeats: 0, emissions: [], counting: false }),
    variants: [
      {
        key: 'raw',
        label: 'raw driver',
        open: (state) => connect(state, new MongoClient(ctx.backend.uri, options)),
        run,
        async close(state) {
          await state.driver?.close();
          state.driver = undefined;
        },
      },
      {
        key: 'rx',
        label: 'rxmongo, 8 subjects subscribed',
        async open(state) {
          const rx = new RxMongoClient(ctx.backend.uri, options);
          state.rx = rx;
          state.emissions = SUBJECTS.map(() => 0);
          state.subscription = new Subscription();
          SUBJECTS.forEach((name, i) => {
            const subject: Observable<unknown> = rx[name];
            state.subscription!.add(subject.subscribe(() => state.counting && (state.emissions[i] += 1)));
          });
          await connect(state, rx.driver);
        },
        async run(state) {
          const it = await run(state);
          return { ...it, counters: { maxEmissions: Math.max(...state.emissions) } };
        },
        async close(state) {
          state.subscription?.unsubscribe();
          if (state.rx) await lastValueFrom(state.rx.close(), { defaultValue: undefined });
          state.rx = undefined;
          state.driver = undefined;
        },
      },
    ],
    rows: [
      {
        label: 'topology, 8 subjects',
        unit: 'heartbeat',
        candidate: 'rx',
        baseline: 'raw',
        paced: true,
        targets: [figureTarget('≤ 1 emission per subject per heartbeat', EMISSIONS, (n) => n <= 1)],
        figures: (r) => topologyFigures(r),
      },
    ],
    teardown: async () => {},
  };
}

function topologyFigures(r: WorkloadResult): Record<string, number> {
  const raw = r.variants.raw;
  const rx = r.variants.rx;
  const n = Math.min(raw.rounds.length, rx.rounds.length);
  return {
    'rx extra CPU µs per heartbeat': quartiles(Array.from({ length: n }, (_, i) => rx.rounds[i].cpuUs / rx.rounds[i].ops - raw.rounds[i].cpuUs / raw.rounds[i].ops)).median,
    [EMISSIONS]: Math.max(...rx.rounds.map((round) => round.counters.maxEmissions / round.ops)),
  };
}
