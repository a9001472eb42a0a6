/**
 * Change-stream workloads: drain throughput of one subscriber, fan-out to K
 * subscribers (rxmongo: one stream, raw: K driver ChangeStreams) with server
 * cursors, getMores and CPU per delivered event, and checkpoint overhead.
 * Every run starts at the same operation time of a pre-written history, so
 * both sides drain the same events and neither waits for a producer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count, filter, firstValueFrom, lastValueFrom, take, tap } from 'rxjs';
import { FileCheckpointStore, MemoryCheckpointStore, type CheckpointStore, type RxCollection, type RxWatchOptions } from '../../lib';
import { CommandCounter, type BenchContext } from '../context';
import { smallDoc } from '../data';
import { median, pairedThroughputRatio, type Variant, type Workload, type WorkloadResult } from '../harness';
import type { Finding } from '../report';
import { drainRaw, dropHistory, expectAll, writeHistory, type History } from './streams';

const FAMILY = 'change streams';
const FAN_OUT_KS = [1, 10, 100] as const;

interface State {
  history: History;
  rx: RxCollection;
  rawCommands: CommandCounter;
  rxCommands: CommandCounter;
  directory?: string;
}

async function setup(ctx: BenchContext, prefix: string, events: number): Promise<State> {
  const history = await writeHistory(ctx, prefix, events, smallDoc);
  return {
    history,
    rx: history.pair.rx.db(history.dbName).collection('events'),
    rawCommands: new CommandCounter(history.pair.raw),
    rxCommands: new CommandCounter(history.pair.rx.driver),
  };
}

async function teardown(state: State): Promise<void> {
  state.rawCommands.detach();
  state.rxCommands.detach();
  await dropHistory(state.history);
  if (state.directory) rmSync(state.directory, { recursive: true, force: true });
}

/** Raw side: K driver change streams from the history's start, drained concurrently. */
function rawReaders(k: number): Variant<State> {
  return {
    label: k === 1 ? 'raw driver ChangeStream' : `raw driver, ${k} ChangeStreams`,
    async before(state) {
      state.rawCommands.reset();
    },
    async run({ history, rawCommands }) {
      const { coll, start, events } = history;
      const streams = Array.from({ length: k }, () => coll.watch([], { startAtOperationTime: start }));
      const counts = await Promise.all(streams.map((stream) => drainRaw(stream, events)));
      expectAll(counts, events);
      return { ops: k * events, counters: rawCommands.snapshot() };
    },
  };
}

/**
 * rxmongo side: one `watch()` stream, K subscribers. The run ends when the
 * stream reports `closed` (cursor killed, last checkpoint saved), as the raw
 * side's ends when its `close()` resolves.
 */
function rxSubscribers(k: number, label: string, options: (state: State) => RxWatchOptions = () => ({})): Variant<State> {
  return {
    label,
    async before(state) {
      state.rxCommands.reset();
    },
    async run(state) {
      const { start, events } = state.history;
      const stream = state.rx.watch([], { startAtOperationTime: start, ...options(state) });
      let saves = 0;
      const closed = firstValueFrom(
        stream.status$.pipe(
          tap((status) => {
            if (status.type === 'checkpointed') saves += 1;
          }),
          filter((status) => status.type === 'closed'),
        ),
      );
      const counts = await Promise.all(
        Array.from({ length: k }, () => lastValueFrom(stream.pipe(take(events), count()))),
      );
      const status = await closed;
      if (status.error !== undefined || status.checkpointError !== undefined) {
        throw new Error(`the stream closed with an error: ${String(status.error ?? status.checkpointError)}`);
      }
      expectAll(counts, events);
      return { ops: k * events, counters: { ...state.rxCommands.snapshot(), checkpointSaves: saves } };
    },
  };
}

/** Checkpoint options with a fresh store per run, so each run starts at the history's start, not at a saved token. */
function checkpointEvery(events: number, kind: 'memory' | 'file'): (state: State) => RxWatchOptions {
  return (state) => {
    let store: CheckpointStore;
    if (kind === 'memory') {
      store = new MemoryCheckpointStore();
    } else {
      state.directory ??= mkdtempSync(join(tmpdir(), 'rxmongo-bench-'));
      store = new FileCheckpointStore(mkdtempSync(join(state.directory, 'run-')));
    }
    return { checkpoint: { store, key: 'bench', every: { events } } };
  };
}

export function changeStreamWorkloads(ctx: BenchContext): Workload<State>[] {
  const drainEvents = ctx.quick ? 2_000 : 20_000;
  const fanOutEvents = ctx.quick ? 200 : 1_000;
  const checkpointEvents = ctx.quick ? 2_000 : 20_000;

  const drain: Workload<State> = {
    name: `change stream drain ${drainEvents / 1000}k events, 1 subscriber`,
    family: FAMILY,
    unit: 'event',
    scale: drainEvents,
    target: { minRatio: 0.9, text: 'rxmongo ≥ 0.9 × raw' },
    setup: () => setup(ctx, 'cs_drain', drainEvents),
    raw: rawReaders(1),
    rxmongo: rxSubscribers(1, 'rxmongo watch()'),
    metrics: streamMetrics,
    teardown,
  };

  const fanOut = FAN_OUT_KS.map(
    (k): Workload<State> => ({
      name: `fan-out K=${k}, ${fanOutEvents / 1000}k events`,
      family: FAMILY,
      unit: 'delivered event',
      scale: k * fanOutEvents,
      target: { text: '1 server cursor at any K; ≤ 1 µs per event per extra subscriber' },
      setup: () => setup(ctx, `cs_fan_${k}`, fanOutEvents),
      raw: rawReaders(k),
      rxmongo: rxSubscribers(k, `rxmongo, 1 watch(), ${k} subscribers`),
      metrics: streamMetrics,
      teardown,
    }),
  );

  const checkpoint: Workload<State> = {
    name: `checkpoint overhead, ${checkpointEvents / 1000}k events`,
    family: FAMILY,
    unit: 'event',
    scale: checkpointEvents,
    target: { text: 'every 100 events ≤ 5 % slower than no checkpoint' },
    setup: () => setup(ctx, 'cs_checkpoint', checkpointEvents),
    raw: rawReaders(1),
    rxmongo: rxSubscribers(1, 'rxmongo, no checkpoint'),
    extra: {
      every100: rxSubscribers(1, 'rxmongo, checkpoint every 100 (memory store)', checkpointEvery(100, 'memory')),
      every1: rxSubscribers(1, 'rxmongo, checkpoint every 1 (memory store)', checkpointEvery(1, 'memory')),
      every100File: rxSubscribers(1, 'rxmongo, checkpoint every 100 (file store)', checkpointEvery(100, 'file')),
    },
    metrics: checkpointMetrics,
    teardown,
  };

  return [drain, ...fanOut, checkpoint];
}

function streamMetrics(r: WorkloadResult): Record<string, number> {
  const out: Record<string, number> = {};
  if (r.raw) {
    out['raw cursors'] = r.raw.counters.serverCursors;
    out['raw getMores'] = r.raw.counters.getMores;
  }
  if (r.rxmongo) {
    out['rx cursors'] = r.rxmongo.counters.serverCursors;
    out['rx getMores'] = r.rxmongo.counters.getMores;
  }
  return out;
}

/** Slowdown of each checkpointing configuration against rxmongo without one, from per-round pairs. */
function checkpointMetrics(r: WorkloadResult): Record<string, number> {
  const out: Record<string, number> = {};
  if (!r.rxmongo) return out;
  for (const [key, name] of [
    ['every100', 'every 100'],
    ['every1', 'every 1'],
    ['every100File', 'every 100 file'],
  ] as const) {
    const variant = r.extra[key];
    if (!variant) continue;
    out[`${name} overhead %`] = (1 - pairedThroughputRatio(variant, r.rxmongo)) * 100;
    out[`${name} saves`] = variant.counters.checkpointSaves;
  }
  return out;
}

export function changeStreamFindings(results: WorkloadResult[]): Finding[] {
  const findings: Finding[] = [];
  const fan = new Map<number, WorkloadResult>();
  for (const r of results) {
    const match = /^fan-out K=(\d+)/.exec(r.name);
    if (match) fan.set(Number(match[1]), r);
  }
  for (const [k, r] of fan) {
    if (!r.rxmongo) continue;
    const cursors = r.rxmongo.counters.serverCursors;
    findings.push({
      subject: `fan-out K=${k}: server cursors (rxmongo vs raw)`,
      value: `${cursors} vs ${r.raw?.counters.serverCursors ?? '?'}; getMores ${r.rxmongo.counters.getMores} vs ${r.raw?.counters.getMores ?? '?'}; CPU ${r.rxmongo.cpuUsPerOp.toFixed(2)} vs ${r.raw?.cpuUsPerOp.toFixed(2) ?? '?'} µs per delivered event`,
      target: '1 server cursor',
      met: cursors === 1,
    });
  }
  const one = fan.get(1);
  const kMax = Math.max(...fan.keys());
  const many = fan.get(kMax);
  if (one && many && kMax > 1) {
    for (const side of ['rxmongo', 'raw'] as const) {
      const a = one[side];
      const b = many[side];
      if (!a || !b) continue;
      const events = one.scale;
      const perExtra = (median(b.samples.map((x) => x.cpuUs)) - median(a.samples.map((x) => x.cpuUs))) / ((kMax - 1) * events);
      findings.push({
        subject: `fan-out: CPU per event per extra subscriber, ${side} (K=1 → K=${kMax})`,
        value: `${perExtra.toFixed(3)} µs`,
        target: side === 'rxmongo' ? '≤ 1 µs' : 'reported for comparison',
        met: side === 'rxmongo' ? perExtra <= 1 : null,
      });
    }
  }
  const drain = results.find((r) => r.name.startsWith('change stream drain'));
  if (drain?.ratio !== undefined) {
    findings.push({ subject: 'change stream drain ratio', value: drain.ratio.toFixed(3), target: '≥ 0.9', met: drain.ratio >= 0.9 });
  }
  const checkpoint = results.find((r) => r.name.startsWith('checkpoint overhead'));
  const overhead = checkpoint?.metrics['every 100 overhead %'];
  if (typeof overhead === 'number') {
    findings.push({
      subject: 'checkpoint every 100 events (memory store): overhead vs no checkpoint',
      value: `${overhead.toFixed(1)} %`,
      target: '≤ 5 %',
      met: overhead <= 5,
    });
  }
  return findings;
}
