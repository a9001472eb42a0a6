/**
 * The benchmark harness: one mechanism for every workload. A workload is
 * data (setup, variants, teardown); the harness warms it up, runs its
 * variants interleaved round by round, times each run and records CPU and
 * (on request) memory, and reduces the rounds to medians and spreads.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What one timed run did: `ops` operations, plus counters the workload wants reported. */
export interface RunResult {
  ops: number;
  counters?: Record<string, number>;
}

/** One side of a comparison: the raw driver, rxmongo, or another configuration. */
export interface Variant<S> {
  label: string;
  /** Untimed preparation before each run (drop a collection, open a client, …). */
  before?(state: S): Promise<void>;
  /** The timed task. */
  run(state: S): Promise<RunResult>;
  /** Untimed clean-up after each run. */
  after?(state: S): Promise<void>;
}

/** A side whose API does not exist yet; the report prints `not available: <reason>`. */
export interface Unavailable {
  unavailable: string;
}

/** A benchmark target, reported (never asserted). */
export interface Target {
  /** Minimum rxmongo/raw throughput ratio, when the target is one. */
  minRatio?: number;
  text: string;
}

export interface Workload<S = unknown> {
  name: string;
  family: string;
  /** What one op is (`command`, `document`, `event`, `heartbeat`, …). */
  unit: string;
  /** Ops one run is sized for (the scale, reported as is). */
  scale: number;
  /** False where both sides are paced by something else (timers, a slow handler): the ratio says nothing then. */
  throughputComparable?: boolean;
  /** Sample RSS and live memory during every run (it costs time: full collections). */
  sampleMemory?: boolean;
  target?: Target;
  /** Overrides of the run's budget (long-running or paced workloads). */
  budget?: Partial<Budget>;
  setup(): Promise<S>;
  raw: Variant<S>;
  rxmongo: Variant<S> | Unavailable;
  /** More rxmongo configurations, compared with `rxmongo` (e.g. checkpoint intervals). */
  extra?: Record<string, Variant<S>>;
  /** Workload-specific figures from the reduced variants. */
  metrics?(result: WorkloadResult): Record<string, number | string | boolean>;
  teardown(state: S): Promise<void>;
}

/**
 * A workload of any state type: the runner only hands the state from
 * `setup` back to the same workload's functions.
 */
export type AnyWorkload = Workload<any>;

/** How many rounds to run, and for how long. */
export interface Budget {
  warmupRounds: number;
  minRounds: number;
  maxRounds: number;
  /** After minRounds, rounds continue (up to maxRounds) until this much wall time has passed. */
  minMs: number;
}

/** One timed run. */
export interface Sample {
  wallMs: number;
  cpuUs: number;
  ops: number;
  counters: Record<string, number>;
  /** Peak RSS, and peak live memory (heap + external, after a full GC), above their level at the start (bytes). */
  rssGrowth?: number;
  liveGrowth?: number;
  peakRss?: number;
  peakLive?: number;
  /** Trend of live memory over the run, per op (bytes). */
  liveSlopePerOp?: number;
}

/** A variant's samples reduced. */
export interface VariantSummary {
  label: string;
  iterations: number;
  opsPerSec: number;
  /** Interquartile range of ops/s over the median, in percent. */
  spreadPct: number;
  p10: number;
  p90: number;
  cpuUsPerOp: number;
  /** Median of every counter per run. */
  counters: Record<string, number>;
  memory?: { peakRss: number; peakLive: number; rssGrowth: number; liveGrowth: number; liveSlopePerOp: number };
  samples: Sample[];
}

export interface WorkloadResult {
  name: string;
  family: string;
  unit: string;
  scale: number;
  throughputComparable: boolean;
  target?: Target;
  raw?: VariantSummary;
  rxmongo?: VariantSummary;
  /** Why rxmongo did not run. */
  rxUnavailable?: string;
  extra: Record<string, VariantSummary>;
  /** Median over rounds of rxmongo/raw throughput of the same round. */
  pairedRatio?: number;
  /** rxmongo ops/s median over raw ops/s median. */
  ratio?: number;
  metrics: Record<string, number | string | boolean>;
  /** Set when the workload itself failed. */
  error?: string;
}

const gc = exposeGc();

/**
 * Runs one workload: setup, warm-up rounds, measured rounds, teardown. Never
 * throws: a failure is in the result's `error`.
 * Within a round every variant runs once; the order rotates each round
 * (raw, rx / rx, raw / …) so neither side always runs on a freshly
 * collected heap or right after the other's garbage.
 */
export async function runWorkload<S>(workload: Workload<S>, defaults: Budget): Promise<WorkloadResult> {
  const budget = { ...defaults, ...workload.budget };
  const result: WorkloadResult = {
    name: workload.name,
    family: workload.family,
    unit: workload.unit,
    scale: workload.scale,
    throughputComparable: workload.throughputComparable ?? true,
    target: workload.target,
    extra: {},
    metrics: {},
  };
  const variants: Array<[string, Variant<S>]> = [['raw', workload.raw]];
  if ('unavailable' in workload.rxmongo) result.rxUnavailable = workload.rxmongo.unavailable;
  else variants.push(['rxmongo', workload.rxmongo]);
  for (const [key, variant] of Object.entries(workload.extra ?? {})) variants.push([key, variant]);

  const samples = new Map<string, Sample[]>(variants.map(([key]) => [key, []]));
  let state: S;
  try {
    // A setup that fails releases what it opened itself; there is no state to tear down.
    state = await workload.setup();
  } catch (err) {
    result.error = `setup: ${message(err)}`;
    return result;
  }
  try {
    for (let round = 0; round < budget.warmupRounds; round++) {
      for (const [, variant] of rotate(variants, round)) await runOnce(variant, state, workload.sampleMemory);
    }
    const started = performance.now();
    for (let round = 0; round < budget.maxRounds; round++) {
      if (round >= budget.minRounds && performance.now() - started >= budget.minMs) break;
      for (const [key, variant] of rotate(variants, round)) {
        samples.get(key)!.push(await runOnce(variant, state, workload.sampleMemory));
      }
    }
  } catch (err) {
    result.error = message(err);
  } finally {
    await workload.teardown(state).catch((err: unknown) => {
      result.error ??= `teardown: ${message(err)}`;
    });
  }
  if (result.error) return result;

  for (const [key, variant] of variants) {
    const summary = summarize(variant.label, samples.get(key)!);
    if (key === 'raw') result.raw = summary;
    else if (key === 'rxmongo') result.rxmongo = summary;
    else result.extra[key] = summary;
  }
  if (result.raw && result.rxmongo) {
    result.ratio = result.rxmongo.opsPerSec / result.raw.opsPerSec;
    result.pairedRatio = pairedThroughputRatio(result.rxmongo, result.raw);
  }
  result.metrics = workload.metrics?.(result) ?? {};
  return result;
}

async function runOnce<S>(variant: Variant<S>, state: S, sampleMemory = false): Promise<Sample> {
  await variant.before?.(state);
  gc?.();
  const sampler = sampleMemory ? new MemorySampler() : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let outcome: RunResult;
  try {
    outcome = await variant.run(state);
  } catch (err) {
    sampler?.stop();
    // Still release what `before` opened; the run's own error is the one to report.
    await variant.after?.(state).catch(() => {});
    throw err;
  }
  sampler?.stop();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await variant.after?.(state);
  const sample: Sample = {
    wallMs,
    cpuUs: cpu.user + cpu.system,
    ops: outcome.ops,
    counters: outcome.counters ?? {},
  };
  if (sampler) Object.assign(sample, sampler.result(outcome.ops));
  return sample;
}

/**
 * Samples memory while a run is in flight: RSS every 10 ms, and every 100 ms
 * the live memory — heap used plus external memory (the driver keeps
 * undecoded batches in Buffers) right after a full collection, so garbage
 * waiting to be collected does not pass for retained events. A timer, not a
 * hook in the workload, so both sides are measured alike; only workloads
 * that ask for it get it (the collections cost time).
 */
class MemorySampler {
  private readonly t0 = performance.now();
  private readonly startLive: number;
  private readonly startRss: number;
  private readonly live: Array<{ t: number; bytes: number }> = [];
  private peakRss: number;
  private readonly rssTimer = setInterval(() => this.takeRss(), 10);
  private readonly liveTimer = setInterval(() => this.takeLive(), 100);

  constructor() {
    this.takeLive();
    this.startLive = this.live[0].bytes;
    this.startRss = process.memoryUsage.rss();
    this.peakRss = this.startRss;
  }

  private takeRss(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
  }

  private takeLive(): void {
    gc?.();
    const m = process.memoryUsage();
    this.live.push({ t: performance.now() - this.t0, bytes: m.heapUsed + m.external });
    this.peakRss = Math.max(this.peakRss, m.rss);
  }

  stop(): void {
    clearInterval(this.rssTimer);
    clearInterval(this.liveTimer);
    this.takeLive();
  }

  result(ops: number): Pick<Sample, 'rssGrowth' | 'liveGrowth' | 'peakRss' | 'peakLive' | 'liveSlopePerOp'> {
    const peakLive = Math.max(...this.live.map((p) => p.bytes));
    // Least-squares slope of live memory over the run, scaled to the whole
    // run and divided by its ops: ~0 when memory is flat, the bytes kept per
    // op when something accumulates.
    const n = this.live.length;
    const mt = this.live.reduce((sum, p) => sum + p.t, 0) / n;
    const mb = this.live.reduce((sum, p) => sum + p.bytes, 0) / n;
    let num = 0;
    let den = 0;
    for (const p of this.live) {
      num += (p.t - mt) * (p.bytes - mb);
      den += (p.t - mt) ** 2;
    }
    const duration = this.live[n - 1].t;
    const slope = den === 0 ? 0 : num / den;
    return {
      peakRss: this.peakRss,
      peakLive,
      rssGrowth: this.peakRss - this.startRss,
      liveGrowth: peakLive - this.startLive,
      liveSlopePerOp: ops > 0 ? (slope * duration) / ops : 0,
    };
  }
}

function summarize(label: string, samples: Sample[]): VariantSummary {
  const rates = samples.map((s) => (s.ops / s.wallMs) * 1000);
  const sorted = [...rates].sort((a, b) => a - b);
  const med = median(rates);
  const counterNames = new Set(samples.flatMap((s) => Object.keys(s.counters)));
  const counters: Record<string, number> = {};
  for (const name of counterNames) counters[name] = median(samples.map((s) => s.counters[name] ?? 0));
  const summary: VariantSummary = {
    label,
    iterations: samples.length,
    opsPerSec: med,
    spreadPct: med > 0 ? ((quantile(sorted, 0.75) - quantile(sorted, 0.25)) / med) * 100 : 0,
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    cpuUsPerOp: median(samples.map((s) => (s.ops > 0 ? s.cpuUs / s.ops : 0))),
    counters,
    samples,
  };
  if (samples.length > 0 && samples[0].peakRss !== undefined) {
    summary.memory = {
      peakRss: Math.max(...samples.map((s) => s.peakRss!)),
      peakLive: Math.max(...samples.map((s) => s.peakLive!)),
      rssGrowth: median(samples.map((s) => s.rssGrowth!)),
      liveGrowth: median(samples.map((s) => s.liveGrowth!)),
      liveSlopePerOp: median(samples.map((s) => s.liveSlopePerOp!)),
    };
  }
  return summary;
}

/** Median over rounds of `f(candidate sample, baseline sample)` of the same round. */
export function pairedMedian(candidate: VariantSummary, baseline: VariantSummary, f: (c: Sample, b: Sample) => number): number {
  const n = Math.min(candidate.samples.length, baseline.samples.length);
  return median(Array.from({ length: n }, (_, i) => f(candidate.samples[i], baseline.samples[i])));
}

/** Median of same-round throughput ratios, `candidate` over `baseline`. */
export function pairedThroughputRatio(candidate: VariantSummary, baseline: VariantSummary): number {
  return pairedMedian(candidate, baseline, (c, b) => c.ops / c.wallMs / (b.ops / b.wallMs));
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * A full collection between runs, untimed, so one side's garbage is not
 * collected on the other's clock. `--expose-gc` cannot be passed through
 * `tsx` portably, so the flag is set at runtime.
 */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
