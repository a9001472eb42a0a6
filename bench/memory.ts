/**
 * Live memory, measured where the workload says: a variant calls
 * `probe.sample(progress)` at the moments that matter (the first delivery
 * of a fan-out, every n events of a soak). Each sample is taken right after
 * a full collection, so garbage waiting to be collected does not pass for
 * retained events; live = V8 heap used + external memory (the driver keeps
 * undecoded batches in Buffers).
 */
import { slope } from './stats';

/** What a workload's timed code calls; a no-op unless this run measures memory. */
export interface Probe {
  readonly live: boolean;
  /** Samples live memory now; `progress` is the x of the trend (events handled, …). */
  sample(progress?: number): void;
}

export interface ProbeResult {
  /** Highest live memory sampled, above the level at the start of the run (bytes). */
  peakBytes: number;
  /**
   * Least-squares trend of live memory per unit of progress after the
   * first tenth of the run (bytes per event): ~0 when flat, what each
   * event leaves behind when something accumulates.
   */
  trendPerUnit: number;
  samples: number;
}

export const NO_PROBE: Probe = { live: false, sample: () => {} };

export class MemoryProbe implements Probe {
  readonly live = true;
  private readonly base: number;
  private readonly points: Array<{ x: number; y: number }> = [];

  /** Collects, then takes the level the run's samples are measured from. */
  constructor() {
    collect(); // twice: what the first pass finalizes, the second frees
    this.base = liveBytes();
  }

  sample(progress = this.points.length): void {
    this.points.push({ x: progress, y: liveBytes() - this.base });
  }

  result(): ProbeResult {
    const xs = this.points.map((p) => p.x);
    const from = Math.min(...xs) + (Math.max(...xs) - Math.min(...xs)) / 10;
    return {
      peakBytes: Math.max(0, ...this.points.map((p) => p.y)),
      trendPerUnit: slope(this.points.filter((p) => p.x >= from)),
      samples: this.points.length,
    };
  }
}

/** Collects fully (`--expose-gc`, which `npm run bench` passes), then reads heap used + external. */
function liveBytes(): number {
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

export function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the bench needs node --expose-gc (npm run bench passes it)');
  gc();
}
