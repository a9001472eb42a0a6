/**
 * Topology cost per heartbeat: a client idles while its monitors heartbeat
 * every server; rxmongo has all 8 topology subjects subscribed, the raw
 * driver has only the heartbeat counter both sides use. One client exists at
 * a time, so this process's CPU over the run is that client's.
 */
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { lastValueFrom, Subscription, type Observable } from 'rxjs';
import { RxMongoClient } from '../../lib';
import type { BenchContext } from '../context';
import { pairedMedian, type Variant, type Workload, type WorkloadResult } from '../harness';
import type { Finding } from '../report';

const HEARTBEAT_MS = 250;

interface State {
  client?: MongoClient;
  rx?: RxMongoClient;
  subscription?: Subscription;
  heartbeats: number;
  /** Emissions per subject during the timed part. */
  emissions: number[];
  counting: boolean;
}

const SUBJECTS = [
  'address$',
  'primary$',
  'secondaries$',
  'arbiters$',
  'nodes$',
  'isPrimary$',
  'isMongos$',
  'topologyDescription$',
] as const;

export function topologyWorkloads(ctx: BenchContext): Workload<State>[] {
  const beats = ctx.quick ? 12 : 48;
  const options: MongoClientOptions = { ...ctx.clientOptions, heartbeatFrequencyMS: HEARTBEAT_MS };

  /** Waits, timed, until `beats` more heartbeats have succeeded. */
  const waitForBeats = (state: State, driver: MongoClient): Promise<void> =>
    new Promise((resolve) => {
      const target = state.heartbeats + beats;
      const check = (): void => {
        if (state.heartbeats >= target) {
          driver.off('serverHeartbeatSucceeded', check);
          resolve();
        }
      };
      driver.on('serverHeartbeatSucceeded', check);
    });

  /** Counts heartbeats from connect on, and waits untimed for the first round to settle. */
  const startCounting = async (state: State, driver: MongoClient): Promise<void> => {
    state.heartbeats = 0;
    driver.on('serverHeartbeatSucceeded', () => {
      state.heartbeats += 1;
    });
    await driver.connect();
    const settle = state.heartbeats + 3;
    while (state.heartbeats < settle) await new Promise((r) => setTimeout(r, HEARTBEAT_MS / 2));
  };

  const raw: Variant<State> = {
    label: 'raw driver',
    async before(state) {
      state.client = new MongoClient(ctx.backend.uri, options);
      await startCounting(state, state.client);
    },
    async run(state) {
      const start = state.heartbeats;
      await waitForBeats(state, state.client!);
      return { ops: state.heartbeats - start };
    },
    async after(state) {
      await state.client!.close();
      state.client = undefined;
    },
  };

  const rxmongo: Variant<State> = {
    label: 'rxmongo, 8 subjects subscribed',
    async before(state) {
      const rx = new RxMongoClient(ctx.backend.uri, options);
      state.rx = rx;
      state.emissions = SUBJECTS.map(() => 0);
      state.counting = false;
      const subscription = new Subscription();
      SUBJECTS.forEach((name, i) => {
        // Counting only: the cost measured is rxmongo's, not a dashboard's.
        const subject: Observable<unknown> = rx[name];
        subscription.add(
          subject.subscribe(() => {
            if (state.counting) state.emissions[i] += 1;
          }),
        );
      });
      state.subscription = subscription;
      await startCounting(state, rx.driver);
    },
    async run(state) {
      state.counting = true;
      const start = state.heartbeats;
      await waitForBeats(state, state.rx!.driver);
      state.counting = false;
      const ops = state.heartbeats - start;
      return { ops, counters: { maxEmissionsPerSubject: Math.max(...state.emissions), minEmissionsPerSubject: Math.min(...state.emissions) } };
    },
    async after(state) {
      state.subscription?.unsubscribe();
      await lastValueFrom(state.rx!.close(), { defaultValue: undefined });
      state.rx = undefined;
    },
  };

  return [
    {
      name: 'topology, per heartbeat',
      family: 'topology',
      unit: 'heartbeat',
      scale: beats,
      throughputComparable: false,
      target: { text: 'CPU per heartbeat reported; ≤ 1 emission per subject per refresh' },
      budget: ctx.quick ? { warmupRounds: 0, minRounds: 2, maxRounds: 2 } : { warmupRounds: 1, minRounds: 8, maxRounds: 8 },
      setup: async () => ({ heartbeats: 0, emissions: [], counting: false }),
      raw,
      rxmongo,
      metrics: (r) => topologyMetrics(r),
      teardown: async () => {},
    },
  ];
}

/** rxmongo's CPU per heartbeat above raw's, as the median of same-round differences. */
function extraCpu(r: WorkloadResult): number {
  return pairedMedian(r.rxmongo!, r.raw!, (rx, raw) => rx.cpuUs / rx.ops - raw.cpuUs / raw.ops);
}

function topologyMetrics(r: WorkloadResult): Record<string, number> {
  if (!r.raw || !r.rxmongo) return {};
  const rxBeats = r.rxmongo.samples.map((s) => s.ops);
  const maxEmissions = r.rxmongo.samples.map((s, i) => s.counters.maxEmissionsPerSubject / rxBeats[i]);
  return {
    'rx extra CPU µs/heartbeat': extraCpu(r),
    'max emissions/subject/heartbeat': Math.max(...maxEmissions),
  };
}

export function topologyFindings(results: WorkloadResult[]): Finding[] {
  const r = results.find((x) => x.family === 'topology');
  if (!r?.raw || !r.rxmongo) return [];
  const perBeat = r.metrics['max emissions/subject/heartbeat'] as number;
  return [
    {
      subject: 'topology: rxmongo CPU per heartbeat, 8 subjects',
      value: `${r.rxmongo.cpuUsPerOp.toFixed(1)} µs vs raw ${r.raw.cpuUsPerOp.toFixed(1)} µs (extra, median of paired rounds: ${extraCpu(r).toFixed(1)} µs)`,
      target: 'reported',
      met: null,
    },
    {
      subject: 'topology: emissions per subject per heartbeat',
      value: perBeat.toFixed(2),
      target: '≤ 1 per refreshed description',
      met: perBeat <= 1,
    },
  ];
}
