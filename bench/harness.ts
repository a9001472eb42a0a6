/**
 * The harness: one mechanism for every workload. A workload is data (setup,
 * variants, rows, teardown). Its variants run interleaved, round after
 * round, in this process against one server; the order rotates each round
 * (raw, rx / rx, raw / …) so neither side always runs on a freshly
 * collected heap or right after the other's garbage. Within a round,
 * tinybench times a variant's iterations and gives their statistics; the
 * harness adds CPU time (`process.cpuUsage`, hooks excluded) and reduces the
 * rounds: a row's ratio is the median of same-round ratios, its spread their
 * interquartile range. Nothing here asserts a time: targets are reported.
 */
import { Bench } from 'tinybench';
import type { Chart } from './chart';
import type { BenchContext } from './context';
import { collect, MemoryProbe, NO_PROBE, type Probe, type ProbeResult } from './memory';
import { formatFigure, quartiles, type Quartiles } from './stats';

/** What one timed iteration did. */
export interface Iteration {
  /** Operations done: calls, documents, delivered events. */
  ops: number;
  /** The measured duration, when only part of the iteration is what is measured (ms); else tinybench's. */
  ms?: number;
  /** Counts to report (server cursors opened, checkpoint saves, …). */
  counters?: Record<string, number>;
}

/** One side of a comparison: the raw driver, rxmongo, or another way a user could write it. */
export interface Variant<S> {
  key: string;
  label: string;
  /** Timed iterations per round (default 1). */
  iterations?: number;
  /** Untimed, before a round's iterations (open a stream, recreate a collection). */
  open?(state: S): Promise<void>;
  /** Untimed, before each iteration. */
  prepare?(state: S): Promise<void>;
  /** The timed iteration. */
  run(state: S, probe: Probe): Promise<Iteration>;
  /** Untimed, after each iteration: fail it if it did not do what it claims. */
  check?(state: S): Promise<void>;
  /** Untimed, after a round's iterations. */
  close?(state: S): Promise<void>;
  /** Measure its memory: more untimed iterations with a live probe (or every round, see `Workload.memory`). */
  memory?: boolean;
}

/** A target from the issue, reported (never asserted). */
export interface Target {
  /** As the issue words it. */
  text: string;
  /** Whether the row meets it; `undefined` when its figures cannot say. */
  met(row: RowResult): boolean | undefined;
  /** The measured value it is checked against, when the ratio column does not show it. */
  shown?(row: RowResult): string;
}

/** One line of the report: a candidate against a baseline run in the same rounds. */
export interface Row {
  label: string;
  /** What one op is: `call`, `document`, `delivered event`, … */
  unit: string;
  candidate: string;
  baseline: string;
  /** Short name of the baseline for the table, when it is not the raw driver doing the same call. */
  vs?: string;
  /** More variants shown against the same baseline (e.g. rxjs `share()`). */
  references?: string[];
  targets?: Target[];
  /** Both sides paced by a handler or a timer: their time ratio says nothing. */
  paced?: boolean;
  /** Row-specific figures (bytes per event, saves, server cursors, …). */
  figures?(result: WorkloadResult): Record<string, number | string>;
}

export interface Budget {
  /** Rounds run first and discarded (JIT, pools, server caches). */
  warmupRounds: number;
  rounds: number;
}

export interface Workload<S = any> {
  /** Short name for `--filter` and file names. */
  id: string;
  title: string;
  /** Position in the report: lower first. */
  order: number;
  budget: Budget;
  /**
   * `separate` (default): variants with `memory` run 3 more times, untimed,
   * with a live probe; the median counts. `timed`: the probe is live in every timed round
   * (paced workloads, whose times are not compared).
   */
  memory?: 'separate' | 'timed';
  /**
   * After the full collection that starts each round, each variant runs its
   * round once untimed, then timed (default `true`; never for `memory:
   * 'timed'`). That collection (`gc()`) also drops optimised code and type
   * feedback, which a long-running process keeps: without the untimed pass
   * a round would time a cold start, and the side with more code to warm
   * (rxmongo over the driver) would pay more for it. `false` where the work
   * runs in fresh child processes anyway.
   */
  warmAfterCollect?: boolean;
  /**
   * Start each round with a full collection (default `true`). `false` for
   * short rounds of small calls: the collection, and what it drops, would
   * weigh on every round more than the little garbage a side leaves the
   * next; each side then pays for its garbage as it makes it (scavenges),
   * and the rounds can be many and short, so drift weighs on both sides
   * alike. Implies no untimed pass.
   */
  collectEachRound?: boolean;
  setup(): Promise<S>;
  variants: Array<Variant<S>>;
  rows: Row[];
  teardown(state: S): Promise<void>;
  /** A picture of this workload's results, written next to the JSON. */
  chart?(result: WorkloadResult): Chart | undefined;
}

/** What a module in `bench/workloads/` default-exports: its row or rows. */
export type WorkloadFactory = (ctx: BenchContext) => Workload | Workload[];

/** One round of one variant. */
interface RoundFigures {
  iterations: number;
  ops: number;
  /** Sum of the timed iterations (tinybench `totalTime`), ms. */
  wallMs: number;
  /** Process CPU time during the round, untimed hooks excluded, µs. */
  cpuUs: number;
  /** Per-iteration latency quantiles of the round (tinybench), ms. */
  p50Ms: number;
  p99Ms: number;
  /** Relative margin of error of the round's mean iteration time (tinybench), %. */
  rme: number;
  /** Mean per iteration. */
  counters: Record<string, number>;
  memory?: ProbeResult;
}

export interface VariantResult {
  key: string;
  label: string;
  rounds: RoundFigures[];
  /** Medians over rounds. */
  usPerOp: number;
  cpuUsPerOp: number;
  p50Us: number;
  p99Us: number;
  counters: Record<string, number>;
  memory?: ProbeResult;
}

export interface RowResult {
  label: string;
  unit: string;
  vs: string | undefined;
  paced: boolean;
  candidate: VariantResult;
  baseline: VariantResult;
  /** Same-round baseline time ÷ candidate time: 1 = as fast, 0.5 = twice the time. */
  ratio: Quartiles;
  /** The same for CPU time. */
  cpuRatio: Quartiles;
  references: Array<{ variant: VariantResult; ratio: Quartiles }>;
  figures: Record<string, number | string>;
  targets: Array<{ text: string; value: string | undefined; met: boolean | undefined }>;
  /** Every target met; `undefined` when the row has none or its figures cannot say. */
  met: boolean | undefined;
}

export interface WorkloadResult {
  id: string;
  title: string;
  order: number;
  budget: Budget;
  variants: Record<string, VariantResult>;
  rows: RowResult[];
  seconds: number;
  /** Set when the workload itself failed: no figures then. */
  error?: string;
}

/** Untimed memory runs per variant with `memory` (separate mode): their median damps what one collection leaves or finds. */
const MEMORY_RUNS = 3;

/** Runs one workload: setup, rounds, memory runs, teardown. Never throws: a failure is in `error`. */
export async function runWorkload<S>(workload: Workload<S>): Promise<WorkloadResult> {
  const started = performance.now();
  const result: WorkloadResult = {
    id: workload.id,
    title: workload.title,
    order: workload.order,
    budget: workload.budget,
    variants: {},
    rows: [],
    seconds: 0,
  };
  let state: S;
  try {
    // A setup that fails releases what it opened itself; there is no state to tear down.
    state = await workload.setup();
  } catch (err) {
    result.error = `setup: ${message(err)}`;
    return result;
  }
  const rounds = new Map<string, RoundFigures[]>(workload.variants.map((v) => [v.key, []]));
  const memory = new Map<string, ProbeResult>();
  try {
    const timed = workload.memory === 'timed';
    const collecting = workload.collectEachRound !== false;
    const warm = collecting && !timed && workload.warmAfterCollect !== false;
    const timers = new Map(
      workload.variants.map((v) => [v.key, new RoundTimer(v, state, timed && v.memory === true, collecting, warm)]),
    );
    const { warmupRounds, rounds: measured } = workload.budget;
    for (let round = 0; round < warmupRounds + measured; round++) {
      for (const variant of rotate(workload.variants, round)) {
        const figures = await timers.get(variant.key)!.round();
        if (round >= warmupRounds) rounds.get(variant.key)!.push(figures);
      }
    }
    if (workload.memory !== 'timed') {
      for (const variant of workload.variants.filter((v) => v.memory)) {
        const runs: ProbeResult[] = [];
        for (let i = 0; i < MEMORY_RUNS; i++) runs.push(await probeOnce(variant, state));
        memory.set(variant.key, medianProbe(runs));
      }
    }
  } catch (err) {
    result.error = message(err);
  } finally {
    await workload.teardown(state).catch((err: unknown) => {
      result.error ??= `teardown: ${message(err)}`;
    });
  }
  result.seconds = (performance.now() - started) / 1000;
  if (result.error) return result;
  try {
    for (const variant of workload.variants) {
      result.variants[variant.key] = summarize(variant, rounds.get(variant.key)!, memory.get(variant.key));
    }
    for (const row of workload.rows) result.rows.push(reduceRow(row, result));
  } catch (err) {
    result.error = `report: ${message(err)}`;
    result.rows = [];
  }
  return result;
}

/**
 * A variant's tinybench task, run once per round: `iterations` timed calls
 * of `run`, the variant's hooks around them (untimed, their CPU excluded).
 */
class RoundTimer<S> {
  private readonly bench: Bench;
  private hookCpuUs = 0;
  /** The current iteration's run threw (its check is skipped so the run's error is the one reported). */
  private iterationFailed = false;
  private counters: Record<string, number> = {};
  private probes: ProbeResult[] = [];

  constructor(
    private readonly variant: Variant<S>,
    state: S,
    private readonly probeEveryRound: boolean,
    private readonly collectFirst: boolean,
    private readonly warmAfterCollect: boolean,
  ) {
    const iterations = variant.iterations ?? 1;
    this.bench = new Bench({ name: variant.label, iterations, time: 0, warmup: false, throws: true });
    const hook = (fn: ((state: S) => Promise<void>) | undefined) =>
      fn &&
      (async () => {
        const cpu0 = process.cpuUsage();
        try {
          await fn(state);
        } finally {
          const cpu = process.cpuUsage(cpu0);
          this.hookCpuUs += cpu.user + cpu.system;
        }
      });
    this.bench.add(
      variant.label,
      async () => {
        const probe = this.probeEveryRound ? new MemoryProbe() : NO_PROBE;
        this.iterationFailed = true;
        const it = await variant.run(state, probe);
        this.iterationFailed = false;
        if (probe instanceof MemoryProbe) this.probes.push(probe.result());
        if (!(it.ops > 0)) throw new Error(`an iteration did ${it.ops} operations`);
        this.counters.ops = (this.counters.ops ?? 0) + it.ops;
        for (const [name, value] of Object.entries(it.counters ?? {})) this.counters[name] = (this.counters[name] ?? 0) + value;
        return it.ms === undefined ? undefined : { overriddenDuration: it.ms };
      },
      {
        async: true,
        beforeAll: hook(variant.open),
        beforeEach: hook(variant.prepare),
        // tinybench runs afterEach after a failed iteration too: a check then would hide the run's own error.
        afterEach: hook(variant.check && ((s: S) => (this.iterationFailed ? Promise.resolve() : variant.check!(s)))),
        afterAll: hook(variant.close),
      },
    );
  }

  /** Runs the round's iterations once, its figures and counts afresh; returns the CPU time it took. */
  private async pass(): Promise<{ cpu: NodeJS.CpuUsage }> {
    this.bench.reset();
    this.hookCpuUs = 0;
    this.counters = {};
    this.probes = [];
    const cpu0 = process.cpuUsage();
    try {
      await this.bench.run();
    } catch (err) {
      throw new Error(`${this.variant.label}: ${message(err)}`, { cause: err });
    }
    return { cpu: process.cpuUsage(cpu0) };
  }

  async round(): Promise<RoundFigures> {
    // Untimed: the previous variant's garbage is not collected on this one's clock.
    if (this.collectFirst) collect();
    if (this.warmAfterCollect) await this.pass();
    const { cpu } = await this.pass();
    const task = this.bench.tasks[0];
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`${this.variant.label}: ${r.state === 'errored' ? message(r.error) : r.state}`);
    const { ops, ...counts } = this.counters;
    const iterations = task.runs;
    return {
      iterations,
      ops,
      wallMs: r.totalTime,
      cpuUs: Math.max(0, cpu.user + cpu.system - this.hookCpuUs),
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      rme: r.latency.rme,
      counters: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / iterations])),
      memory: worst(this.probes),
    };
  }
}

/** One untimed iteration with a live probe, hooks around it. */
async function probeOnce<S>(variant: Variant<S>, state: S): Promise<ProbeResult> {
  await variant.open?.(state);
  try {
    await variant.prepare?.(state);
    const probe = new MemoryProbe();
    await variant.run(state, probe);
    await variant.check?.(state);
    return probe.result();
  } finally {
    await variant.close?.(state);
  }
}

function summarize<S>(variant: Variant<S>, rounds: RoundFigures[], memory: ProbeResult | undefined): VariantResult {
  const med = (f: (r: RoundFigures) => number): number => quartiles(rounds.map(f)).median;
  const names = new Set(rounds.flatMap((r) => Object.keys(r.counters)));
  return {
    key: variant.key,
    label: variant.label,
    rounds,
    usPerOp: med((r) => (r.wallMs * 1000) / r.ops),
    cpuUsPerOp: med((r) => r.cpuUs / r.ops),
    p50Us: med((r) => r.p50Ms * 1000),
    p99Us: med((r) => r.p99Ms * 1000),
    counters: Object.fromEntries([...names].map((n) => [n, med((r) => r.counters[n] ?? 0)])),
    memory: memory ?? worst(rounds.flatMap((r) => (r.memory ? [r.memory] : []))),
  };
}

function reduceRow(row: Row, result: WorkloadResult): RowResult {
  const variant = (key: string): VariantResult => {
    const v = result.variants[key];
    if (!v) throw new Error(`row '${row.label}' names an unknown variant '${key}'`);
    return v;
  };
  const baseline = variant(row.baseline);
  const candidate = variant(row.candidate);
  const reduced: RowResult = {
    label: row.label,
    unit: row.unit,
    vs: row.vs,
    paced: row.paced ?? false,
    candidate,
    baseline,
    ratio: pairedRatio(baseline, candidate, (r) => r.wallMs / r.ops),
    cpuRatio: pairedRatio(baseline, candidate, (r) => r.cpuUs / r.ops),
    references: (row.references ?? []).map((key) => ({ variant: variant(key), ratio: pairedRatio(baseline, variant(key), (r) => r.wallMs / r.ops) })),
    figures: row.figures?.(result) ?? {},
    targets: [],
    met: undefined,
  };
  reduced.targets = (row.targets ?? []).map((t) => ({ text: t.text, value: t.shown?.(reduced), met: t.met(reduced) }));
  const verdicts = reduced.targets.map((t) => t.met);
  if (verdicts.length > 0 && verdicts.every((v) => v !== undefined)) reduced.met = verdicts.every(Boolean);
  else if (verdicts.includes(false)) reduced.met = false;
  return reduced;
}

/** Quartiles over rounds of `cost(baseline) / cost(candidate)` in the same round. */
function pairedRatio(baseline: VariantResult, candidate: VariantResult, cost: (r: RoundFigures) => number): Quartiles {
  const n = Math.min(baseline.rounds.length, candidate.rounds.length);
  return quartiles(Array.from({ length: n }, (_, i) => cost(baseline.rounds[i]) / cost(candidate.rounds[i])));
}

/** A target on the row's median time ratio. */
export function minRatio(min: number, text: string): Target {
  return { text, met: (row) => (Number.isFinite(row.ratio.median) ? row.ratio.median >= min : undefined) };
}

function medianProbe(runs: ProbeResult[]): ProbeResult {
  return {
    peakBytes: quartiles(runs.map((r) => r.peakBytes)).median,
    trendPerUnit: quartiles(runs.map((r) => r.trendPerUnit)).median,
    samples: runs.reduce((sum, r) => sum + r.samples, 0),
  };
}

/** A target on one of the row's figures (see `Row.figures`), shown with its value. */
export function figureTarget(text: string, figure: string, ok: (value: number) => boolean, suffix = ''): Target {
  const value = (row: RowResult): number | undefined => (typeof row.figures[figure] === 'number' ? (row.figures[figure] as number) : undefined);
  return {
    text,
    met: (row) => {
      const v = value(row);
      return v === undefined ? undefined : ok(v);
    },
    shown: (row) => {
      const v = value(row);
      return v === undefined ? '?' : `${formatFigure(v)}${suffix}`;
    },
  };
}

function worst(results: ProbeResult[]): ProbeResult | undefined {
  return results.reduce<ProbeResult | undefined>((a, b) => (a === undefined || b.peakBytes > a.peakBytes ? b : a), undefined);
}

function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
